//! Which address a request comes from, for throttling and the audit log.
//!
//! `X-Forwarded-For` is written by whoever sends the request, so it is only
//! believed when the peer is a configured proxy, and then read from the right:
//! each trusted proxy appends the address it saw, so the right-most entry that is
//! not a trusted proxy is the first address no one trusted could have forged. The
//! left-most entry is the attacker's choice (a spoofed XFF would otherwise let one
//! client rotate through unlimited "addresses" and escape the per-IP limit).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The client's address, if known.
pub(crate) fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                client = ip;
                if !is_trusted(ip, trusted) {
                    break;
                }
            }
            // A garbled entry was written by the previous hop, which we trust no
            // further: stop at the last address a trusted proxy vouched for.
            Err(_) => break,
        }
    }
    Some(client)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The throttling bucket of an address: IPv4 as is, IPv6 by /64, since one
/// subscriber usually holds a whole /64 and could otherwise change address at will.
pub(crate) fn bucket(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}
