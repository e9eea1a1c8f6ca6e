//! Which address a request comes from, for throttling and the audit log: the
//! actix side of [`usher_core::RequestOrigin`], which holds the rule (trusted
//! proxies, `X-Forwarded-For` read from the right) for every front-end.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;
use usher_core::{FORWARDED_FOR, RequestOrigin};

pub(crate) use usher_core::ip_bucket as bucket;

/// What the transport says about where `req` comes from.
pub(crate) fn origin(req: &HttpRequest) -> RequestOrigin {
    RequestOrigin::new(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get_all(FORWARDED_FOR)
            .map(actix_web::http::header::HeaderValue::as_bytes),
    )
}

/// The client's address, if known.
pub(crate) fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    origin(req).client_ip(trusted)
}
