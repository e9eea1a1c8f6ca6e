//! SAML service providers declared by metadata: the first load when the front-ends
//! open, then a background task per SP that re-reads its metadata every
//! `metadata_refresh` and swaps the SP in whole. A failed read keeps the last good
//! SP and is retried at the next tick; an SP whose metadata never loaded is not
//! registered (requests naming it get the "not registered" page) and is retried
//! every 30 seconds at most until it loads.

use std::sync::Arc;
use std::time::Duration;

use usher_saml::{SamlState, ServiceProvider};

use crate::config::{ConfigError, SpDeclaration, SpSource};

/// A metadata fetch gives up after this long.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger metadata documents are refused.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// How often an SP whose metadata never loaded is retried, at most.
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(30);
/// Redirects followed, at most, all to the same scheme.
const MAX_REDIRECTS: usize = 5;

/// The HTTP client for metadata URLs: timeout, no redirect to another scheme.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let from = attempt.previous().last().map(|u| u.scheme().to_owned());
            if from.as_deref() != Some(attempt.url().scheme()) {
                attempt.error("redirect to another scheme refused")
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        }))
        .user_agent(concat!("usher/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Reads `declaration`'s metadata (file or URL) and builds the SP, fields applied.
/// `None` for an SP declared by fields only.
pub async fn load(
    client: &reqwest::Client,
    declaration: &SpDeclaration,
) -> Option<Result<ServiceProvider, String>> {
    let xml = match &declaration.source {
        SpSource::Fields => return None,
        SpSource::File(path) => read_file(path),
        SpSource::Url(url) => fetch(client, url).await,
    };
    Some(xml.and_then(|xml| {
        declaration.sp_from_metadata(&xml).map_err(|e| match e {
            ConfigError::Invalid { message, .. } => message,
            other => other.to_string(),
        })
    }))
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
            Some(Err(reason)) => tracing::error!(
                sp = %d.entity_id,
                %reason,
                "SAML service provider metadata could not be loaded; the SP is unusable until it loads"
            ),
            None => {}
        }
    }
    sps
}

/// Starts one task per SP declared by metadata, re-reading it on its schedule.
pub fn spawn(state: Arc<SamlState>, client: reqwest::Client, declarations: Vec<SpDeclaration>) {
    for declaration in declarations {
        if declaration.source == SpSource::Fields {
            continue;
        }
        let state = state.clone();
        let client = client.clone();
        actix_web::rt::spawn(async move {
            let mut loaded = state.sp(&declaration.entity_id).is_some();
            loop {
                let wait = if loaded {
                    declaration.refresh
                } else {
                    declaration.refresh.min(FIRST_LOAD_RETRY)
                };
                tokio::time::sleep(wait).await;
                match load(&client, &declaration).await {
                    Some(Ok(sp)) => {
                        if !loaded {
                            tracing::info!(sp = %declaration.entity_id, "SAML service provider metadata loaded");
                        }
                        loaded = true;
                        state.replace_service_provider(sp);
                    }
                    Some(Err(reason)) => tracing::warn!(
                        sp = %declaration.entity_id,
                        %reason,
                        kept_previous = loaded,
                        "SAML service provider metadata refresh failed; retrying at the next tick"
                    ),
                    None => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable_type;

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
