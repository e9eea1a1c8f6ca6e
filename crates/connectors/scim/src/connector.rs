//! [`Connector`] over SCIM 2.0 (RFC 7644): users through `/Users`, groups and
//! their members through `/Groups`.

use std::sync::Mutex;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use usher_connector::{
    Capabilities, Connector, ConnectorError, ErrorKind, GroupRecord, MatchKey, MatchKeys, Page,
    PageRequest, RemoteGroup, RemoteId, RemoteUser, Result, SettingsError, UserRecord,
};

use crate::group;
use crate::http::{Answer, Http};
use crate::settings::ScimSettings;
use crate::user;

/// Members per group call: large enough for few requests, small enough for the
/// request size limits targets commonly set.
const MEMBER_BATCH: u32 = 100;

/// What the target's `ServiceProviderConfig` says (RFC 7643 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Discovery {
    patch: bool,
    filter: bool,
}

/// A generic SCIM 2.0 target.
#[derive(Debug)]
pub struct ScimConnector {
    http: Http,
    discovery: Mutex<Option<Discovery>>,
}

impl ScimConnector {
    /// A connector from checked settings; a refused key is named.
    pub fn new(settings: ScimSettings) -> Result<Self, SettingsError> {
        let http = Http::new(settings.check()?)?;
        Ok(Self {
            http,
            discovery: Mutex::new(None),
        })
    }

    fn known(&self) -> Option<Discovery> {
        self.discovery.lock().ok().and_then(|d| *d)
    }

    /// The target's features, read once (and again after a failed read).
    async fn discover(&self) -> Result<Discovery> {
        if let Some(d) = self.known() {
            return Ok(d);
        }
        let path = if self.http.settings.quirks.plural_service_provider_config {
            "/ServiceProviderConfigs"
        } else {
            "/ServiceProviderConfig"
        };
        let answer = self.http.send(Method::GET, path, &[], None).await?;
        let supported = |k: &str| {
            answer
                .body
                .get(k)
                .and_then(|v| v.get("supported"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let found = Discovery {
            patch: supported("patch") && !self.http.settings.quirks.no_patch,
            filter: supported("filter"),
        };
        if let Ok(mut d) = self.discovery.lock() {
            *d = Some(found);
        }
        Ok(found)
    }

    fn user_path(id: &RemoteId) -> String {
        Self::resource_path("/Users/", id)
    }

    fn group_path(id: &RemoteId) -> String {
        Self::resource_path("/Groups/", id)
    }

    fn resource_path(endpoint: &str, id: &RemoteId) -> String {
        // A remote id is opaque: escape it so it stays one path segment
        // (RFC 3986 §3.3; unreserved characters pass as they are).
        let mut path = String::from(endpoint);
        for b in id.as_str().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                path.push(char::from(b));
            } else {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        path
    }

    /// The first user the filter `attr eq "value"` finds.
    async fn find_by(&self, attr: &str, value: &str) -> Result<Option<RemoteUser>> {
        Ok(self
            .find_in("/Users", attr, value)
            .await?
            .as_ref()
            .and_then(user::parse))
    }

    /// The first resource of `endpoint` the filter `attr eq "value"` finds.
    async fn find_in(&self, endpoint: &str, attr: &str, value: &str) -> Result<Option<Value>> {
        // Filter strings are JSON strings (RFC 7644 §3.4.2.2, as usher-scim-model
        // parses them): serde_json quotes and escapes `"` and `\`.
        let filter = format!("{attr} eq {}", Value::from(value));
        let query = [("filter", filter), ("count", "2".to_owned())];
        let mut answer = self.http.send(Method::GET, endpoint, &query, None).await?;
        let found = answer
            .body
            .get_mut("Resources")
            .and_then(Value::as_array_mut)
            .filter(|r| !r.is_empty())
            .map(|r| r.swap_remove(0));
        Ok(found)
    }

    /// The first group with this external id, then this display name.
    async fn find_group_doc(&self, group: &GroupRecord) -> Result<Option<RemoteGroup>> {
        let by_id = self
            .find_in("/Groups", "externalId", &group.external_id)
            .await?;
        let found = match by_id {
            Some(doc) => Some(doc),
            None => {
                self.find_in("/Groups", "displayName", &group.display_name)
                    .await?
            }
        };
        Ok(found.as_ref().and_then(group::parse))
    }

    /// Changes a group by PATCH, or (without PATCH) by reading it, applying
    /// `edit` and putting it back.
    async fn change_group(
        &self,
        id: &RemoteId,
        ops: Vec<Value>,
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> Result<()> {
        let path = Self::group_path(id);
        if self.discover().await?.patch {
            self.http
                .send(Method::PATCH, &path, &[], Some(&user::patch(ops)))
                .await?;
            return Ok(());
        }
        let mut doc = self.http.send(Method::GET, &path, &[], None).await?.body;
        if let Value::Object(o) = &mut doc {
            o.remove("meta");
            edit(o);
        }
        self.http.send(Method::PUT, &path, &[], Some(&doc)).await?;
        Ok(())
    }

    /// Sets `active`: a PATCH where the target takes one, else the resource read
    /// and replaced with PUT.
    async fn set_active(&self, id: &RemoteId, active: bool) -> Result<()> {
        let path = Self::user_path(id);
        if self.discover().await?.patch {
            let ops = vec![json!({"op": "replace", "path": "active", "value": active})];
            self.http
                .send(Method::PATCH, &path, &[], Some(&user::patch(ops)))
                .await?;
            return Ok(());
        }
        let mut doc = self.http.send(Method::GET, &path, &[], None).await?.body;
        if doc.get("active").and_then(Value::as_bool) == Some(active) {
            return Ok(());
        }
        if let Value::Object(o) = &mut doc {
            o.insert("active".into(), json!(active));
            o.remove("meta");
        }
        self.http.send(Method::PUT, &path, &[], Some(&doc)).await?;
        Ok(())
    }
}

#[async_trait]
impl Connector for ScimConnector {
    fn capabilities(&self) -> Capabilities {
        let d = self.known();
        Capabilities::default()
            .with_groups(true)
            .with_member_batch_size(MEMBER_BATCH)
            .with_partial_update(d.is_some_and(|d| d.patch))
            .with_lookup(d.is_none_or(|d| d.filter))
    }

    async fn test_connection(&self) -> Result<()> {
        if let Ok(mut d) = self.discovery.lock() {
            *d = None;
        }
        self.discover().await?;
        // The discovery document may be public (RFC 7644 §4): a listing proves
        // the credentials.
        let query = [("count", "1".to_owned())];
        self.http.send(Method::GET, "/Users", &query, None).await?;
        Ok(())
    }

    async fn create_user(&self, record: &UserRecord) -> Result<RemoteId> {
        let body = user::resource(record);
        match self
            .http
            .send(Method::POST, "/Users", &[], Some(&body))
            .await
        {
            Ok(answer) => created_id(&answer, "/Users", "user"),
            Err(e) if matches!(e.kind(), ErrorKind::Conflict { .. }) => {
                // Name the existing account so the core adopts it (never a second one).
                let mut existing = self.find_by("externalId", &record.external_id).await?;
                if existing.is_none() {
                    existing = self.find_by("userName", &record.user_name).await?;
                }
                Err(conflict_with(
                    &e,
                    existing.map(|u| u.id),
                    format!("user {:?} already exists on the target", record.user_name),
                ))
            }
            Err(e) => Err(e),
        }
    }

    async fn update_user(
        &self,
        id: &RemoteId,
        desired: &UserRecord,
        last_pushed: Option<&UserRecord>,
    ) -> Result<()> {
        let path = Self::user_path(id);
        if let (true, Some(old)) = (self.discover().await?.patch, last_pushed) {
            let ops = user::diff(old, desired);
            if ops.is_empty() {
                return Ok(());
            }
            self.http
                .send(Method::PATCH, &path, &[], Some(&user::patch(ops)))
                .await?;
            return Ok(());
        }
        let mut body = user::resource(desired);
        body["id"] = json!(id.as_str());
        self.http.send(Method::PUT, &path, &[], Some(&body)).await?;
        Ok(())
    }

    async fn deactivate_user(&self, id: &RemoteId) -> Result<()> {
        self.set_active(id, false).await
    }

    async fn reactivate_user(&self, id: &RemoteId) -> Result<()> {
        self.set_active(id, true).await
    }

    async fn delete_user(&self, id: &RemoteId) -> Result<()> {
        match self
            .http
            .send(Method::DELETE, &Self::user_path(id), &[], None)
            .await
        {
            // Gone already (a first attempt deleted it): done.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find_user(&self, keys: &MatchKeys, record: &UserRecord) -> Result<Option<RemoteUser>> {
        for key in keys.keys() {
            let found = match key {
                MatchKey::ExternalId => self.find_by("externalId", &record.external_id).await?,
                MatchKey::UserName => self.find_by("userName", &record.user_name).await?,
                MatchKey::Email => match record.primary_email() {
                    Some(email) => self.find_by("emails.value", email).await?,
                    None => None,
                },
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<RemoteUser>> {
        self.list("/Users", page, user::parse).await
    }

    async fn create_group(&self, record: &GroupRecord, members: &[RemoteId]) -> Result<RemoteId> {
        let body = group::resource(record, members);
        match self
            .http
            .send(Method::POST, "/Groups", &[], Some(&body))
            .await
        {
            Ok(answer) => created_id(&answer, "/Groups", "group"),
            Err(e) if matches!(e.kind(), ErrorKind::Conflict { .. }) => {
                let existing = self.find_group_doc(record).await?.map(|g| g.id);
                Err(conflict_with(
                    &e,
                    existing,
                    format!(
                        "group {:?} already exists on the target",
                        record.display_name
                    ),
                ))
            }
            Err(e) => Err(e),
        }
    }

    async fn update_group(
        &self,
        id: &RemoteId,
        desired: &GroupRecord,
        last_pushed: Option<&GroupRecord>,
    ) -> Result<()> {
        if last_pushed == Some(desired) {
            return Ok(());
        }
        // Name and attributes only: the members are the core's to change, by
        // add_members and remove_members, so a PUT keeps those read back.
        let mut ops = vec![
            json!({"op": "replace", "path": "displayName", "value": desired.display_name}),
            json!({"op": "replace", "path": "externalId", "value": desired.external_id}),
        ];
        for (k, v) in &desired.attributes {
            ops.push(json!({"op": "replace", "path": k, "value": v}));
        }
        self.change_group(id, ops, |doc| {
            doc.insert("displayName".into(), json!(desired.display_name));
            doc.insert("externalId".into(), json!(desired.external_id));
            for (k, v) in &desired.attributes {
                doc.insert(k.clone(), json!(v));
            }
        })
        .await
    }

    async fn delete_group(&self, id: &RemoteId) -> Result<()> {
        match self
            .http
            .send(Method::DELETE, &Self::group_path(id), &[], None)
            .await
        {
            Err(e) if matches!(e.kind(), ErrorKind::NotFound) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find_group(&self, record: &GroupRecord) -> Result<Option<RemoteGroup>> {
        self.find_group_doc(record).await
    }

    async fn list_groups(&self, page: &PageRequest) -> Result<Page<RemoteGroup>> {
        self.list("/Groups", page, group::parse).await
    }

    async fn add_members(&self, id: &RemoteId, members: &[RemoteId]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let ops =
            vec![json!({"op": "add", "path": "members", "value": group::member_values(members)})];
        self.change_group(id, ops, |doc| {
            let mut have = group::members(&Value::Object(doc.clone()));
            for m in members {
                if !have.iter().any(|h| h == m.as_str()) {
                    have.push(m.as_str().to_owned());
                }
            }
            let ids: Vec<RemoteId> = have.into_iter().map(RemoteId::new).collect();
            doc.insert("members".into(), group::member_values(&ids));
        })
        .await
    }

    async fn remove_members(&self, id: &RemoteId, members: &[RemoteId]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let result = self
            .change_group(id, group::remove_ops(members), |doc| {
                let keep: Vec<RemoteId> = group::members(&Value::Object(doc.clone()))
                    .into_iter()
                    .filter(|h| !members.iter().any(|m| m.as_str() == h))
                    .map(RemoteId::new)
                    .collect();
                doc.insert("members".into(), group::member_values(&keep));
            })
            .await;
        match result {
            // RFC 7644 §3.5.2.2: a remove whose filter matches nothing may be
            // answered noTarget; the members are not in the group, which is done.
            Err(e) if e.remote_code() == Some("noTarget") => Ok(()),
            other => other,
        }
    }
}

impl ScimConnector {
    /// One page of `endpoint`; the cursor is the 1-based startIndex of the page
    /// (RFC 7644 §3.4.2.4).
    async fn list<T>(
        &self,
        endpoint: &str,
        page: &PageRequest,
        parse: fn(&Value) -> Option<T>,
    ) -> Result<Page<T>> {
        let start: u64 = match &page.cursor {
            None => 1,
            Some(c) => c.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ConnectorError::fatal(format!(
                    "listing {endpoint}: {c:?} is not a SCIM page cursor"
                ))
            })?,
        };
        let query = [
            ("startIndex", start.to_string()),
            ("count", page.size.max(1).to_string()),
        ];
        let body = self
            .http
            .send(Method::GET, endpoint, &query, None)
            .await?
            .body;
        let resources = body.get("Resources").and_then(Value::as_array);
        let items: Vec<T> = resources
            .map(|r| r.iter().filter_map(parse).collect())
            .unwrap_or_default();
        let returned = resources.map_or(0, Vec::len) as u64;
        let total = body
            .get("totalResults")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let next_start = start + returned;
        let next = (returned > 0 && next_start <= total).then(|| next_start.to_string());
        Ok(Page::new(items, next))
    }
}

/// A conflict naming the existing object, keeping the target's code and status.
/// The id of what a POST to `path` created; a success without one is retried
/// (the core looks the object up before creating again, so nothing duplicates).
fn created_id(answer: &Answer, path: &str, what: &str) -> Result<RemoteId> {
    answer
        .body
        .get("id")
        .and_then(Value::as_str)
        .map(RemoteId::new)
        .ok_or_else(|| {
            ConnectorError::retryable(
                None,
                format!("POST {path}: the target created the {what} but returned no id"),
            )
            .with_http_status(answer.status.as_u16())
        })
}

fn conflict_with(
    e: &ConnectorError,
    existing: Option<RemoteId>,
    message: String,
) -> ConnectorError {
    let mut conflict = ConnectorError::conflict(existing, message);
    if let Some(code) = e.remote_code() {
        conflict = conflict.with_remote_code(code);
    }
    if let Some(status) = e.http_status() {
        conflict = conflict.with_http_status(status);
    }
    conflict
}
