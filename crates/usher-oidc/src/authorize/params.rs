//! Request parameters of the browser-facing endpoints (authorize, end_session):
//! read from the query (GET) or a form body (POST), with the limits and the
//! duplicate rule of RFC 6749 §3.1 applied before anything looks at a value.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use actix_web::http::header;
use actix_web::{HttpRequest, web};

/// Longest query string or form body accepted. Real authorization requests are a
/// few hundred bytes; `request` objects (the one legitimately long parameter) are
/// not supported.
pub(crate) const MAX_PARAMS_LEN: usize = 8 * 1024;

/// Why a request's parameters could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamsError {
    /// Query longer than [`MAX_PARAMS_LEN`] (answered 414).
    QueryTooLong,
    /// Body longer than [`MAX_PARAMS_LEN`] (answered 413).
    BodyTooLarge,
    /// A POST that is not `application/x-www-form-urlencoded`, or not UTF-8
    /// (OIDC Core §3.1.2.1: POST uses form serialization).
    NotAForm,
    /// Percent-encoding that does not decode.
    Malformed,
}

impl ParamsError {
    /// What went wrong, for the error page.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ParamsError::QueryTooLong => "The request's address is too long.",
            ParamsError::BodyTooLarge => "The request is too large.",
            ParamsError::NotAForm => "The request was not sent as a form.",
            ParamsError::Malformed => "The request's parameters could not be read.",
        }
    }

    /// The HTTP status of the error page.
    pub(crate) fn status(self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            ParamsError::QueryTooLong => StatusCode::URI_TOO_LONG,
            ParamsError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ParamsError::NotAForm | ParamsError::Malformed => StatusCode::BAD_REQUEST,
        }
    }
}

/// The parameters of one request. Empty values count as absent (RFC 6749 §3.1:
/// "parameters sent without a value MUST be treated as if they were omitted").
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    duplicated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub(crate) fn parse(text: &str) -> Result<Self, ParamsError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(text)
            .map_err(|_| ParamsError::Malformed)?
            .into_inner();
        let mut params = Params::default();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name) {
                Entry::Occupied(e) => {
                    if !params.duplicated.contains(e.key()) {
                        params.duplicated.push(e.key().clone());
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
        }
        Ok(params)
    }

    /// The parameters of a GET (the query) or a POST (the form body; the query of
    /// a POST is ignored, as OIDC Core §3.1.2.1 sends everything in the body).
    pub(crate) async fn from_request(
        req: &HttpRequest,
        body: Option<web::Payload>,
    ) -> Result<Self, ParamsError> {
        match body {
            None => {
                let query = req.query_string();
                if query.len() > MAX_PARAMS_LEN {
                    return Err(ParamsError::QueryTooLong);
                }
                Self::parse(query)
            }
            Some(payload) => {
                let is_form = req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next())
                    .is_some_and(|v| {
                        v.trim()
                            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                    });
                if !is_form {
                    return Err(ParamsError::NotAForm);
                }
                let bytes = match payload.to_bytes_limited(MAX_PARAMS_LEN).await {
                    Ok(Ok(bytes)) => bytes,
                    Ok(Err(_)) => return Err(ParamsError::Malformed),
                    Err(_) => return Err(ParamsError::BodyTooLarge),
                };
                let text = std::str::from_utf8(&bytes).map_err(|_| ParamsError::NotAForm)?;
                Self::parse(text)
            }
        }
    }

    /// A parameter's value, when present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` was sent more than once (RFC 6749 §3.1: parameters "MUST NOT
    /// be included more than once").
    pub(crate) fn is_duplicated(&self, name: &str) -> bool {
        self.duplicated.iter().any(|d| d == name)
    }

    /// The first of `names` that was sent more than once.
    pub(crate) fn first_duplicated<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names.iter().copied().find(|n| self.is_duplicated(n))
    }
}

/// Percent-encodes a value for a query string (RFC 3986 unreserved characters are
/// kept; everything else, space included, is `%XX`).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base` with `pairs` appended to its query, keeping any query it already has
/// (RFC 6749 §3.1.2: the redirection endpoint's query "MUST be retained").
pub(crate) fn append_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let (without_fragment, _) = base.split_once('#').unwrap_or((base, ""));
    let mut url = without_fragment.to_owned();
    let mut separator = if url.contains('?') {
        if url.ends_with('?') || url.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (name, value) in pairs {
        url.push_str(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
        separator = "&";
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_noticed_and_empty_values_dropped() {
        let p = Params::parse("a=1&b=&a=2&c=x%20y&d=1+2").expect("parses");
        assert_eq!(p.get("a"), Some("1"));
        assert!(p.is_duplicated("a"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.get("d"), Some("1 2"));
        assert_eq!(p.first_duplicated(&["b", "a"]), Some("a"));
    }

    #[test]
    fn queries_are_appended_and_encoded() {
        assert_eq!(
            append_query("https://a.example/cb", &[("code", "x y"), ("state", "s&t")]),
            "https://a.example/cb?code=x%20y&state=s%26t"
        );
        assert_eq!(
            append_query("https://a.example/cb?k=v", &[("code", "c")]),
            "https://a.example/cb?k=v&code=c"
        );
        assert_eq!(
            append_query("https://a.example/cb?", &[("code", "c")]),
            "https://a.example/cb?code=c"
        );
    }
}
