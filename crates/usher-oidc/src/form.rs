//! `application/x-www-form-urlencoded` request bodies, read strictly: a size
//! limit, the right content type, and no parameter twice (RFC 6749 §3.1, §3.2:
//! "Request and response parameters MUST NOT be included more than once").

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::Payload;

use crate::error::OAuthError;

/// Largest form body accepted at the token, introspection, revocation and
/// userinfo endpoints.
pub const FORM_LIMIT: usize = 16 * 1024;

/// A decoded form: each parameter at most once.
#[derive(Debug, Default, Clone)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Decodes a body or query string; duplicates and bad encodings are
    /// `invalid_request`.
    pub fn parse(body: &str) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)
                .ok_or_else(|| OAuthError::invalid_request("the form is not well encoded"))?;
            let value = decode(value)
                .ok_or_else(|| OAuthError::invalid_request("the form is not well encoded"))?;
            if map.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            }
        }
        Ok(Self(map))
    }

    /// Reads and decodes a request body of type `application/x-www-form-urlencoded`.
    pub async fn read(req: &HttpRequest, payload: Payload) -> Result<Self, OAuthError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let too_large = || {
            OAuthError::invalid_request(format!("the body is larger than {FORM_LIMIT} bytes"))
                .status(StatusCode::PAYLOAD_TOO_LARGE)
        };
        let body = payload
            .to_bytes_limited(FORM_LIMIT)
            .await
            .map_err(|_| too_large())?
            .map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
        let body = std::str::from_utf8(&body)
            .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
        Self::parse(body)
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Percent-decodes one form component (`+` is a space); `None` on a bad escape or
/// bytes that are not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
