//! SAML metadata read on a schedule: the SAML service providers declared by
//! metadata (`[[saml.service_providers]]`) and the upstream SAML IdPs
//! (`[[upstreams]]` with `[upstreams.saml]`). The first load happens when the
//! front-ends open; then a background task per entity re-reads its metadata (file
//! or URL) every refresh interval and swaps the entity in whole. A failed read
//! keeps the last good one and is retried at the next tick; an entity whose
//! metadata never loaded is not registered (requests naming it get a "not
//! registered" page) and is retried every 30 seconds at most until it loads.

use std::sync::Arc;
use std::time::Duration;

use usher_saml::{SamlSpState, SamlState, SamlUpstream, ServiceProvider};

use crate::config::{ConfigError, SamlUpstreamDeclaration, SpDeclaration, SpSource};

/// A metadata fetch gives up after this long.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger metadata documents are refused.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// How often an SP whose metadata never loaded is retried, at most.
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(30);
/// Redirects followed, at most.
const MAX_REDIRECTS: usize = 5;

/// The HTTP client for metadata URLs: timeouts, and redirects followed only
/// while they keep the transport protected ([`redirect_refusal`]).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::custom(
            |attempt| match redirect_refusal(attempt.previous(), attempt.url()) {
                Some(why) => attempt.error(why),
                None => attempt.follow(),
            },
        ))
        .user_agent(concat!("usher/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Why a redirect from the URLs fetched so far (`previous`, the configured URL
/// first) to `to` is not followed, if it is not. The configured URL passed
/// [`usher_saml::check_metadata_url`]; every hop must too, or a redirect would
/// undo it (an https server, or anyone on the path of a loopback one, sending
/// usher to plain http elsewhere), and a hop never leaves https, not even for
/// loopback. A bounded number, so a loop ends.
fn redirect_refusal(previous: &[reqwest::Url], to: &reqwest::Url) -> Option<&'static str> {
    if previous.len() > MAX_REDIRECTS {
        return Some("too many redirects (more than 5)");
    }
    let from_https = previous.iter().any(|u| u.scheme() == "https");
    if from_https && to.scheme() != "https" {
        return Some("a redirect from https to another scheme is refused");
    }
    if usher_saml::check_metadata_url(to.as_str()).is_err() {
        return Some("a redirect to a URL other than https (or http on loopback) is refused");
    }
    None
}

/// Reads `declaration`'s metadata (file or URL) and builds the SP, fields applied.
/// `None` for an SP declared by fields only.
pub async fn load(
    client: &reqwest::Client,
    declaration: &SpDeclaration,
) -> Option<Result<ServiceProvider, String>> {
    Some(
        read(client, &declaration.source)
            .await?
            .and_then(|xml| declaration.sp_from_metadata(&xml).map_err(reason)),
    )
}

/// The metadata text of `source`; `None` for an entity declared by fields.
async fn read(client: &reqwest::Client, source: &SpSource) -> Option<Result<String, String>> {
    Some(match source {
        SpSource::Fields => return None,
        SpSource::File(path) => read_file(path),
        SpSource::Url(url) => fetch(client, url).await,
    })
}

fn read_file(path: &std::path::Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(format!("{} is larger than 1 MiB", path.display()));
    }
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", path.display()))
}

/// Whether a `Content-Type` is acceptable for metadata: any XML or text type.
fn acceptable_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/samlmetadata+xml"
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || essence.starts_with("text/")
}

/// GETs `url`: 2xx, an XML or text type, at most 1 MiB, within the timeout.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut res = client
        .get(url)
        .header(
            reqwest::header::ACCEPT,
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1",
        )
        .send()
        .await
        .map_err(|e| format!("fetching {url} failed: {}", error_chain(&e)))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !acceptable_type(&content_type) {
        return Err(format!(
            "{url} answered Content-Type {content_type:?}, expected XML"
        ));
    }
    if res
        .content_length()
        .is_some_and(|n| n > MAX_METADATA_BYTES as u64)
    {
        return Err(format!("{url} answered more than 1 MiB"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("reading {url} failed: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(format!("{url} answered more than 1 MiB"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| format!("{url} answered a body that is not UTF-8"))
}

/// A configuration error as a log reason: the key, then what is wrong.
fn reason(e: ConfigError) -> String {
    match e {
        ConfigError::Invalid { key, message } => format!("{key}: {message}"),
        other => other.to_string(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Loads every SP declared by metadata URL, concurrently, for the first start.
/// One that cannot be loaded is logged and left out (the refresher keeps trying);
/// returns the SPs loaded.
pub async fn first_load(
    client: &reqwest::Client,
    declarations: &[SpDeclaration],
) -> Vec<ServiceProvider> {
    let urls = declarations
        .iter()
        .filter(|d| matches!(d.source, SpSource::Url(_)));
    let loads = urls.map(|d| async move { (d, load(client, d).await) });
    let mut sps = Vec::new();
    for (d, result) in futures_util::future::join_all(loads).await {
        match result {
            Some(Ok(sp)) => sps.push(sp),
            Some(Err(reason)) => never_loaded(SP, &d.entity_id, &reason),
            None => {}
        }
    }
    sps
}

/// Loads every upstream SAML IdP declared by metadata URL, concurrently, for the
/// first start (file and field ones were resolved with the configuration); one
/// that cannot be loaded is logged and left out until the refresher loads it.
pub async fn first_load_upstreams(
    client: &reqwest::Client,
    declarations: &[SamlUpstreamDeclaration],
) -> Vec<SamlUpstream> {
    let urls = declarations
        .iter()
        .filter(|d| matches!(d.source, SpSource::Url(_)));
    let loads = urls.map(|d| async move {
        let result = match read(client, &d.source).await {
            Some(Ok(xml)) => d.resolve(Some(&xml)).map_err(reason),
            Some(Err(reason)) => Err(reason),
            None => Err("no metadata source".to_owned()),
        };
        (d, result)
    });
    let mut upstreams = Vec::new();
    for (d, result) in futures_util::future::join_all(loads).await {
        match result {
            Ok(u) => upstreams.push(u),
            Err(reason) => never_loaded(UPSTREAM, d.who.id.as_str(), &reason),
        }
    }
    upstreams
}

const SP: &str = "SAML service provider";
const UPSTREAM: &str = "upstream SAML IdP";

fn never_loaded(kind: &str, name: &str, reason: &str) {
    tracing::error!(
        kind,
        name,
        reason,
        "SAML metadata could not be loaded; the entity is unusable until it loads"
    );
}

/// Starts one task per SP declared by metadata, re-reading it on its schedule.
pub fn spawn(state: Arc<SamlState>, client: reqwest::Client, declarations: Vec<SpDeclaration>) {
    for declaration in declarations {
        if declaration.source == SpSource::Fields {
            continue;
        }
        let loaded = state.sp(&declaration.entity_id).is_some();
        let state = state.clone();
        let (name, source, refresh) = (
            declaration.entity_id.clone(),
            declaration.source.clone(),
            declaration.refresh,
        );
        refresher(
            SP,
            name,
            source,
            refresh,
            loaded,
            client.clone(),
            move |xml| {
                let sp = declaration.sp_from_metadata(xml).map_err(reason)?;
                state.replace_service_provider(sp);
                Ok(())
            },
        );
    }
}

/// Starts one task per upstream SAML IdP declared by metadata (file or URL),
/// re-reading it every `metadata_refresh_seconds`; a bad read keeps the last
/// good upstream ([`SamlSpState::reload_upstream`]).
pub fn spawn_upstreams(
    state: Arc<SamlSpState>,
    client: reqwest::Client,
    declarations: Vec<SamlUpstreamDeclaration>,
) {
    for d in declarations {
        if d.source == SpSource::Fields {
            continue;
        }
        let loaded = state.upstream(d.who.id.as_str()).is_some();
        let state = state.clone();
        let (name, source, refresh) = (d.who.id.to_string(), d.source.clone(), d.refresh);
        refresher(
            UPSTREAM,
            name,
            source,
            refresh,
            loaded,
            client.clone(),
            move |xml| {
                state
                    .reload_upstream(&d.who, &d.settings, xml, &d.files)
                    .map_err(|e| format!("{}: {}", d.key(e.field), e.message))
            },
        );
    }
}

/// The task behind both: every `refresh` (every 30 s at most until the first
/// success) reads `source` and hands the text to `apply`, which swaps the entity
/// in or says why not (the previous one stays).
fn refresher(
    kind: &'static str,
    name: String,
    source: SpSource,
    refresh: Duration,
    mut loaded: bool,
    client: reqwest::Client,
    apply: impl Fn(&str) -> Result<(), String> + 'static,
) {
    actix_web::rt::spawn(async move {
        loop {
            let wait = if loaded {
                refresh
            } else {
                refresh.min(FIRST_LOAD_RETRY)
            };
            tokio::time::sleep(wait).await;
            let Some(text) = read(&client, &source).await else {
                return;
            };
            match text.and_then(|xml| apply(&xml)) {
                Ok(()) => {
                    if !loaded {
                        tracing::info!(kind, name = %name, "SAML metadata loaded");
                    }
                    loaded = true;
                }
                Err(reason) => tracing::warn!(
                    kind,
                    name = %name,
                    %reason,
                    kept_previous = loaded,
                    "SAML metadata refresh failed; retrying at the next tick"
                ),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{acceptable_type, redirect_refusal};

    fn urls(list: &[&str]) -> Vec<reqwest::Url> {
        list.iter()
            .map(|u| reqwest::Url::parse(u).expect("url"))
            .collect()
    }

    #[test]
    fn redirects_never_leave_https_and_are_bounded() {
        let to = |u: &str| reqwest::Url::parse(u).expect("url");
        let https = urls(&["https://idp.example/md"]);
        let local = urls(&["http://127.0.0.1:8/md"]);
        assert_eq!(
            redirect_refusal(&https, &to("https://cdn.example/md")),
            None
        );
        assert_eq!(redirect_refusal(&local, &to("http://localhost:9/md")), None);
        assert_eq!(
            redirect_refusal(&local, &to("https://idp.example/md")),
            None
        );
        assert!(redirect_refusal(&https, &to("http://idp.example/md")).is_some());
        assert!(redirect_refusal(&https, &to("http://127.0.0.1/md")).is_some());
        assert!(redirect_refusal(&local, &to("http://192.0.2.7/md")).is_some());
        assert!(redirect_refusal(&local, &to("ftp://127.0.0.1/md")).is_some());
        let five = urls(&["https://a.example/1"; 5]);
        assert_eq!(redirect_refusal(&five, &to("https://a.example/2")), None);
        let six = urls(&["https://a.example/1"; 6]);
        assert!(redirect_refusal(&six, &to("https://a.example/2")).is_some());
    }

    #[test]
    fn xml_and_text_types_are_accepted() {
        for ok in [
            "application/samlmetadata+xml",
            "application/xml; charset=utf-8",
            "text/xml",
            "text/plain",
            "Application/XML",
        ] {
            assert!(acceptable_type(ok), "{ok}");
        }
        for bad in [
            "",
            "application/json",
            "application/octet-stream",
            "image/png",
        ] {
            assert!(!acceptable_type(bad), "{bad}");
        }
    }
}
