//! Requests to the target, bounded in time and size, and answers mapped to
//! [`ConnectorError`]s. Nothing the target sends can panic here: every body is
//! read up to a cap and parsed as JSON or reported in words.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use usher_connector::{ConnectorError, Result, SettingsError};
use usher_scim_model::SCIM_JSON;

use crate::auth::Credentials;
use crate::settings::Checked;

/// A rate limit without a usable `Retry-After` waits this long.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The HTTP side of the connector.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    credentials: Credentials,
    pub(crate) settings: Checked,
}

/// A successful answer: its status and its JSON body (`Null` when empty).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Http {
    pub(crate) fn new(settings: Checked) -> Result<Self, SettingsError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            // A redirect is a misconfigured base URL or an attempt to send the
            // token and personal data elsewhere (RFC 9700 §4.11): never followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("usher");
        if let Some(pem) = &settings.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| SettingsError::new("ca_bundle", e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| SettingsError::whole(format!("cannot build the HTTP client: {e}")))?;
        let credentials = Credentials::new(&settings.auth);
        Ok(Self {
            client,
            credentials,
            settings,
        })
    }

    /// `base_url` + `path` (path starts with `/`, already escaped).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base)
    }

    /// Sends one request; a non-2xx answer becomes the matching error. Under
    /// OAuth, a 401 renews the access token and tries once more (the token may
    /// have been revoked or expired early); a second 401 is final.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let what = format!("{method} {path}");
        let refused = match self
            .attempt(&what, method.clone(), path, query, body)
            .await?
        {
            Attempt::Answered(answer) => return answer,
            Attempt::Refused(refused) => refused,
        };
        let Credentials::OAuth(tokens) = &self.credentials else {
            return Err(refused.error);
        };
        tokens.refused(&refused.authorization).await;
        match self.attempt(&what, method, path, query, body).await? {
            Attempt::Answered(answer) => answer,
            Attempt::Refused(refused) => Err(refused.error),
        }
    }

    /// One try: the outer error is a failure to authenticate at all (the token
    /// endpoint), the inner result the target's answer.
    async fn attempt(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Attempt> {
        let authorization = match &self.credentials {
            Credentials::Static(header) => header.clone(),
            Credentials::OAuth(tokens) => tokens.authorization(&self.client).await?,
        };
        let mut request = self
            .client
            .request(method, self.url(path))
            .header(header::AUTHORIZATION, authorization.clone())
            .header(header::ACCEPT, SCIM_JSON);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string());
        }
        Ok(Attempt::Answered(self.answer(what, request).await).refused_with(authorization))
    }

    /// The target's answer to `request`, read up to `max_response_bytes`.
    async fn answer(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Answer> {
        let mut response = request
            .send()
            .await
            .map_err(|e| transport(what, "the target", &e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cap = self.settings.max_response;
        let raw = read_body(&mut response, cap).await.map_err(|e| match e {
            BodyError::TooLarge => ConnectorError::retryable(
                None,
                format!(
                    "{what}: the target's answer is larger than max_response_bytes ({cap} bytes)"
                ),
            )
            .with_http_status(status.as_u16()),
            BodyError::Transport(e) => transport(what, "the target", &e),
        })?;
        let parsed: Option<Value> = if raw.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&raw).ok()
        };
        if status.is_success() {
            let Some(body) = parsed else {
                return Err(ConnectorError::retryable(
                    None,
                    format!("{what}: the target answered {status} with a body that is not JSON"),
                )
                .with_http_status(status.as_u16()));
            };
            return Ok(Answer { status, body });
        }
        let hint = self.credentials.hint();
        Err(refusal(
            what,
            status,
            retry_after,
            location,
            parsed.as_ref(),
            hint,
        ))
    }
}

/// How one try ended.
enum Attempt {
    /// Whatever the target said, but a 401.
    Answered(Result<Answer>),
    /// A 401, with the credentials it refused.
    Refused(Refused),
}

struct Refused {
    authorization: header::HeaderValue,
    error: ConnectorError,
}

impl Attempt {
    fn refused_with(self, authorization: header::HeaderValue) -> Self {
        match self {
            Self::Answered(Err(error)) if error.http_status() == Some(401) => {
                Self::Refused(Refused {
                    authorization,
                    error,
                })
            }
            other => other,
        }
    }
}

/// Why a body was not read whole.
pub(crate) enum BodyError {
    /// Over the cap: announced by `Content-Length` or found while reading.
    TooLarge,
    /// The connection failed half way.
    Transport(reqwest::Error),
}

/// The body, read chunk by chunk and never beyond `cap` bytes, so a huge or
/// endless answer costs at most `cap` of memory.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut raw = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if raw.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        raw.extend_from_slice(&chunk);
    }
    Ok(raw)
}

/// No answer at all: `peer` (the target, the token endpoint) is down, slow or
/// unreachable, which may pass.
pub(crate) fn transport(what: &str, peer: &str, e: &reqwest::Error) -> ConnectorError {
    if e.is_builder() {
        return ConnectorError::fatal(format!("{what}: cannot build the request: {e}"));
    }
    let cause = root_cause(e);
    // A certificate no trusted CA issued will not start being trusted by
    // itself: an administrator must act (OpenSSL's reason, under native-tls).
    if e.is_connect() && cause.contains("certificate verify failed") {
        return ConnectorError::fatal(format!(
            "{what}: the TLS certificate of {peer} is not trusted ({cause}); if it is issued \
             by a private CA, add that CA to ca_bundle"
        ));
    }
    let why = if e.is_timeout() {
        format!("{peer} did not answer in time (timeout_secs)")
    } else if e.is_connect() {
        format!("cannot connect to {peer}: {cause}")
    } else {
        format!("the connection failed: {cause}")
    };
    ConnectorError::retryable(None, format!("{what}: {why}"))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `Retry-After` in seconds (RFC 9110 §10.2.3). The HTTP-date form is not read;
/// it falls back to a default wait.
pub(crate) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The SCIM error document's `scimType` and `detail` (RFC 7644 §3.12), if the
/// body is one.
fn scim_error(body: Option<&Value>) -> (Option<String>, Option<String>) {
    let Some(Value::Object(o)) = body else {
        return (None, None);
    };
    let field = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    (field("scimType"), field("detail"))
}

/// The attributes a refusal's detail may name, to say which field is at fault.
const FIELDS: &[&str] = &[
    "userName",
    "externalId",
    "emails",
    "displayName",
    "name",
    "active",
    "members",
];

/// A non-2xx answer, by status (RFC 7644 §3.12).
fn refusal(
    what: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: Option<&Value>,
    auth_hint: &str,
) -> ConnectorError {
    let (scim_type, detail) = scim_error(body);
    let said = match (&detail, body) {
        (Some(d), _) => format!(": {d}"),
        (None, Some(_)) => String::new(),
        (None, None) => " (the body is not SCIM JSON)".to_owned(),
    };
    let code = status.as_u16();
    let error = match code {
        429 => ConnectorError::rate_limited(
            retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            format!("{what}: the target asks usher to slow down (429){said}"),
        ),
        401 | 403 => ConnectorError::unauthorized(format!(
            "{what}: the target refuses usher's credentials ({status}){said}; {auth_hint}"
        )),
        404 => ConnectorError::not_found(format!("{what}: not found on the target{said}")),
        409 => {
            ConnectorError::conflict(None, format!("{what}: already exists on the target{said}"))
        }
        300..=399 => ConnectorError::fatal(format!(
            "{what}: the target redirects ({status}) to {}; usher follows no redirects, so set \
             base_url to the final URL",
            location.as_deref().unwrap_or("nowhere it names")
        )),
        500..=599 => ConnectorError::retryable(
            retry_after,
            format!("{what}: the target failed ({status}){said}"),
        ),
        400 | 413 | 422 => {
            let reason = detail
                .clone()
                .unwrap_or_else(|| format!("the target refused it ({status})"));
            let field = FIELDS
                .iter()
                .find(|f| reason.contains(*f))
                .map_or("resource", |f| f);
            ConnectorError::invalid(
                field,
                reason,
                format!("{what}: the target refuses it ({status}){said}"),
            )
        }
        _ => ConnectorError::fatal(format!("{what}: unexpected answer {status}{said}")),
    };
    let error = error.with_http_status(code);
    match scim_type {
        Some(t) => error.with_remote_code(t),
        None => error,
    }
}
