//! Fills usher's directory through its own SCIM API, as an inbound IdP would:
//! users by Bulk (RFC 7644 §3.7; single POSTs when usher does not offer Bulk),
//! then one group with them all as members, added by PATCH in batches.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::server::Usher;

/// Members added by one PATCH.
const MEMBER_BATCH: usize = 1000;

/// Bulk requests in flight at once.
const BULK_CONCURRENCY: usize = 4;

/// The user `i` of a scenario, shaped as Entra ID provisions one.
fn user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("prov{i}@example.test"),
        "externalId": format!("ext-prov{i}"),
        "active": true,
        "displayName": format!("Provisioned User {i}"),
        "name": {"givenName": "Provisioned", "familyName": format!("User {i}")},
        "emails": [{"value": format!("prov{i}@example.test"), "type": "work", "primary": true}],
    })
}

/// A SCIM request to usher with the bench client's token.
fn scim(
    client: &reqwest::Client,
    server: &Usher,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    client
        .request(method, format!("{}/scim/v2{path}", server.base))
        .bearer_auth(&server.scim_token)
        .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
}

async fn answer(res: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() {
        bail!(
            "{what} answered {status}: {}",
            body.chars().take(300).collect::<String>()
        );
    }
    if body.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&body).with_context(|| format!("{what}: the answer is not JSON"))
}

/// How many operations one Bulk request may carry (0: no Bulk).
async fn bulk_size(client: &reqwest::Client, server: &Usher) -> anyhow::Result<usize> {
    let spc = answer(
        scim(
            client,
            server,
            reqwest::Method::GET,
            "/ServiceProviderConfig",
        )
        .send()
        .await?,
        "GET /ServiceProviderConfig",
    )
    .await?;
    let supported = spc
        .pointer("/bulk/supported")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max = spc
        .pointer("/bulk/maxOperations")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(if supported { max as usize } else { 0 })
}

/// Creates users `range` in one Bulk request; their ids in order.
async fn bulk_create(
    client: reqwest::Client,
    server_base: String,
    token: String,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Vec<String>> {
    let ops: Vec<Value> = range
        .clone()
        .map(|i| json!({"method": "POST", "bulkId": format!("u{i}"), "path": "/Users", "data": user(i)}))
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": ops,
    });
    let res = client
        .post(format!("{server_base}/scim/v2/Bulk"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
        .body(body.to_string())
        .send()
        .await?;
    let answer = answer(res, "POST /scim/v2/Bulk").await?;
    let results = answer
        .get("Operations")
        .and_then(Value::as_array)
        .context("the BulkResponse has no Operations")?;
    anyhow::ensure!(
        results.len() == range.len(),
        "the BulkResponse has {} results for {} operations",
        results.len(),
        range.len()
    );
    results
        .iter()
        .map(|r| {
            let status = r.get("status").and_then(Value::as_str).unwrap_or_default();
            anyhow::ensure!(status == "201", "a bulk create answered {status}: {r}");
            r.get("location")
                .and_then(Value::as_str)
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned)
                .with_context(|| format!("a bulk create without a location: {r}"))
        })
        .collect()
}

async fn single_create(
    client: &reqwest::Client,
    server: &Usher,
    i: usize,
) -> anyhow::Result<String> {
    let res = scim(client, server, reqwest::Method::POST, "/Users")
        .body(user(i).to_string())
        .send()
        .await?;
    let created = answer(res, "POST /scim/v2/Users").await?;
    created
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("a created user without an id")
}

/// Creates `n` users and a group `group` holding them all; returns their usher
/// ids (the SCIM `id`) in creation order.
pub async fn seed(server: &Usher, n: usize, group: &str) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let batch = bulk_size(&client, server).await?;
    let mut ids = Vec::with_capacity(n);
    if batch > 0 {
        let ranges: Vec<_> = (0..n)
            .step_by(batch)
            .map(|s| s..(s + batch).min(n))
            .collect();
        for wave in ranges.chunks(BULK_CONCURRENCY) {
            let mut tasks = tokio::task::JoinSet::new();
            for (k, range) in wave.iter().enumerate() {
                let (c, b, t) = (
                    client.clone(),
                    server.base.clone(),
                    server.scim_token.clone(),
                );
                let range = range.clone();
                tasks.spawn(async move { (k, bulk_create(c, b, t, range).await) });
            }
            let mut done: Vec<(usize, Vec<String>)> = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                let (k, created) = joined?;
                done.push((k, created?));
            }
            done.sort_by_key(|(k, _)| *k);
            ids.extend(done.into_iter().flat_map(|(_, v)| v));
        }
    } else {
        for i in 0..n {
            ids.push(single_create(&client, server, i).await?);
        }
    }
    let res = scim(&client, server, reqwest::Method::POST, "/Groups")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": group,
            })
            .to_string(),
        )
        .send()
        .await?;
    let group_id = answer(res, "POST /scim/v2/Groups")
        .await?
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("a created group without an id")?;
    for members in ids.chunks(MEMBER_BATCH) {
        let value: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": value}],
        });
        let res = scim(
            &client,
            server,
            reqwest::Method::PATCH,
            &format!("/Groups/{group_id}?excludedAttributes=members"),
        )
        .body(patch.to_string())
        .send()
        .await?;
        answer(res, "PATCH /scim/v2/Groups/{id}").await?;
    }
    eprintln!(
        "seeded {n} users in group {group:?} through usher's SCIM API in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// Deactivates user `id` as Entra ID does (`"False"` as a string, `Replace`
/// capitalised); returns when usher answered 2xx.
pub async fn deactivate(client: &reqwest::Client, server: &Usher, id: &str) -> anyhow::Result<()> {
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    });
    let res = scim(
        client,
        server,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
    )
    .body(patch.to_string())
    .send()
    .await?;
    answer(res, "PATCH /scim/v2/Users/{id}").await?;
    Ok(())
}
