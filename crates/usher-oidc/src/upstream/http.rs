//! The HTTP client `openidconnect` calls the upstream with: bounded in time and
//! size, no redirects (a discovery document or token response that redirects is
//! a misconfiguration or an SSRF attempt, RFC 9700 §4.11).

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

/// Largest response body read from an upstream (discovery documents and JWKS
/// are a few KiB).
pub(crate) const MAX_BODY: usize = 512 * 1024;

/// Why a call to the upstream failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connection refused, DNS, TLS, timeout.
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
    /// The body was larger than [`MAX_BODY`].
    #[error("the response is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The response could not be represented.
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// A client with the given per-call timeout.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("usher")
        .build()
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the upstream HTTP client; using defaults");
            reqwest::Client::new()
        })
}

/// Sends `request`, reading at most [`MAX_BODY`] bytes of the answer.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request)?;
    let mut response = client.execute(request).await?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let mut builder = openidconnect::http::Response::builder().status(status);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .map_err(|e| HttpError::Malformed(e.to_string()))
}

/// [`send`] as the `openidconnect` client type. A named type rather than a
/// closure: its futures are `Send` for every borrow, which closures over
/// `&reqwest::Client` are not (higher-ranked lifetimes).
pub(crate) struct Http<'a>(pub &'a reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}
