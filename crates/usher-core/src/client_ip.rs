//! Which address a request comes from, for throttling, budgets and the audit log:
//! the one rule every front-end uses, over plain values (the peer address and the
//! `X-Forwarded-For` header values), so no web framework is needed here.
//!
//! `X-Forwarded-For` is written by whoever sends the request, so it is only
//! believed when the peer is a configured proxy, and then read from the right:
//! each trusted proxy appends the address it saw, so the right-most entry that is
//! not a trusted proxy is the first address no one trusted could have forged. The
//! left-most entry is the attacker's choice (a spoofed XFF would otherwise let one
//! client rotate through unlimited "addresses" and escape every per-IP limit).

use std::net::IpAddr;

use ipnet::IpNet;

/// The header proxies append the client's address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// What the transport says about where a request comes from, before any rule is
/// applied: the TCP peer and the `X-Forwarded-For` header values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    peer: Option<IpAddr>,
    forwarded_for: Vec<String>,
}

impl RequestOrigin {
    /// The origin of a request from `peer` carrying these `X-Forwarded-For`
    /// values (each may hold several comma-separated entries).
    pub fn new<'a>(peer: Option<IpAddr>, forwarded_for: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            peer,
            forwarded_for: forwarded_for.into_iter().map(str::to_owned).collect(),
        }
    }

    /// The client's address, believing `X-Forwarded-For` only from `trusted`
    /// proxies; `None` when the peer is unknown.
    pub fn client_ip(&self, trusted: &[IpNet]) -> Option<IpAddr> {
        let peer = self.peer?.to_canonical();
        if !is_trusted(peer, trusted) {
            return Some(peer);
        }
        let hops: Vec<&str> = self
            .forwarded_for
            .iter()
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
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The counting bucket of an address: IPv4 as is, IPv6 by /64, since one
/// subscriber usually holds a whole /64 and could otherwise change address at will.
pub fn ip_bucket(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let origin = RequestOrigin::new(Some(ip("192.0.2.1")), ["198.51.100.7"]);
        assert_eq!(origin.client_ip(&[]), Some(ip("192.0.2.1")));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        let origin = RequestOrigin::new(Some(ip("10.0.0.2")), ["9.9.9.9, 192.0.2.50", "10.0.0.3"]);
        assert_eq!(origin.client_ip(&trusted), Some(ip("192.0.2.50")));
        let garbled = RequestOrigin::new(Some(ip("10.0.0.2")), ["192.0.2.50, junk"]);
        assert_eq!(garbled.client_ip(&trusted), Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        assert_eq!(
            ip_bucket(Some(ip("2001:db8:1:2:aaaa::1"))),
            ip_bucket(Some(ip("2001:db8:1:2:bbbb::9")))
        );
        assert_eq!(
            ip_bucket(Some(ip("::ffff:192.0.2.1").to_canonical())),
            "192.0.2.1"
        );
        assert_eq!(ip_bucket(None), "unknown");
    }
}
