//! Every request gets an id (taken from a well-formed `X-Request-Id` or made up),
//! a tracing span carrying it, a line in the log, a metrics sample, and the id back
//! in its response so a user's error report can be matched with the log.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use super::Metrics;

/// The request id header, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_id(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let span =
        tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());

    let mut res = next.call(req).instrument(span.clone()).await?;

    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = metrics {
        metrics.observe_request(&route, &method, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request")
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// A caller's id is reused only when short and plain: it goes into logs, and a
/// free-form value would allow log injection (forged lines, terminal escapes).
fn is_acceptable_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_request_ids_are_replaced() {
        assert!(is_acceptable_id("9f1c-77aa"));
        assert!(!is_acceptable_id(""));
        assert!(!is_acceptable_id("a\nlevel=error msg=forged"));
        assert!(!is_acceptable_id("\u{1b}[31mred"));
        assert!(!is_acceptable_id(&"a".repeat(129)));
    }
}
