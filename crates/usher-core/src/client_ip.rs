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
/// applied: the TCP peer and the `X-Forwarded-For` entries, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    peer: Option<IpAddr>,
    /// Each comma-separated entry of every `X-Forwarded-For` value; `None` for an
    /// entry that is not an address (garbled by whoever wrote it).
    hops: Vec<Option<IpAddr>>,
}

impl RequestOrigin {
    /// The origin of a request from `peer` carrying these `X-Forwarded-For`
    /// values, as the raw bytes of each header value (each may hold several
    /// comma-separated entries).
    ///
    /// Bytes, not text: a client can put any byte in the header, and proxies that
    /// append (nginx's `$proxy_add_x_forwarded_for`) pass it along, so a value
    /// such as `"\xff, 203.0.113.9"` reaches us. Dropping the whole value because
    /// one entry is not ASCII would make every client look like the proxy, and one
    /// attacker could then spend everyone's budget or trip everyone's throttle;
    /// so only the garbled entry is lost, and the entries the trusted proxies
    /// appended after it still count.
    pub fn new<'a>(
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        let hops = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(|b| *b == b','))
            .map(parse_hop)
            .collect();
        Self { peer, hops }
    }

    /// The client's address, believing `X-Forwarded-For` only from `trusted`
    /// proxies; `None` when the peer is unknown.
    pub fn client_ip(&self, trusted: &[IpNet]) -> Option<IpAddr> {
        let peer = self.peer?.to_canonical();
        if !is_trusted(peer, trusted) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in self.hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !is_trusted(client, trusted) {
                        break;
                    }
                }
                // A garbled entry was written by the previous hop, which we trust no
                // further: the client is unknown beyond it, so stop at the last
                // address a trusted proxy vouched for.
                None => break,
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, or `None` when it is not one (not
/// UTF-8, not an address).
fn parse_hop(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    text.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
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
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => "unknown".to_owned(),
    }
}

/// The coarser bucket an address is also counted in: the IPv6 /48 around it
/// (`None` for IPv4 and unknown addresses). A site is commonly given a /48, which
/// holds 65 536 /64s: counted per /64 alone, one holder of a /48 would have
/// 65 536 budgets and could fill the store by itself.
pub fn ip_network_bucket(ip: Option<IpAddr>) -> Option<String> {
    match ip {
        Some(IpAddr::V6(v6)) => {
            let [a, b, c, ..] = v6.segments();
            Some(format!("{a:x}:{b:x}:{c:x}::/48"))
        }
        _ => None,
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
        let origin = RequestOrigin::new(Some(ip("192.0.2.1")), [b"198.51.100.7".as_slice()]);
        assert_eq!(origin.client_ip(&[]), Some(ip("192.0.2.1")));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        let origin = RequestOrigin::new(
            Some(ip("10.0.0.2")),
            [b"9.9.9.9, 192.0.2.50".as_slice(), b"10.0.0.3"],
        );
        assert_eq!(origin.client_ip(&trusted), Some(ip("192.0.2.50")));
        let garbled = RequestOrigin::new(Some(ip("10.0.0.2")), [b"192.0.2.50, junk".as_slice()]);
        assert_eq!(garbled.client_ip(&trusted), Some(ip("10.0.0.2")));
    }

    /// A client puts one non-ASCII byte first in `X-Forwarded-For`; the proxy
    /// appends the address it saw. The entry is garbled, not the whole header:
    /// the client is the address the proxy appended, never the proxy itself
    /// (else every client would share the proxy's budget and throttle).
    #[test]
    fn non_ascii_forwarded_for_entry_does_not_make_the_client_look_like_the_proxy() {
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        let origin = RequestOrigin::new(Some(ip("10.0.0.2")), [b"\xff, 198.51.100.7".as_slice()]);
        assert_eq!(origin.client_ip(&trusted), Some(ip("198.51.100.7")));
        // Through two trusted proxies, the second appending the first.
        let two = RequestOrigin::new(
            Some(ip("10.0.0.2")),
            [b"\xff\xfe, 198.51.100.7, 10.0.0.3".as_slice()],
        );
        assert_eq!(two.client_ip(&trusted), Some(ip("198.51.100.7")));
        // A garbled entry right of every good one: the client is unknown beyond the
        // nearest trusted proxy that wrote it, so it is the last good hop.
        let last = RequestOrigin::new(
            Some(ip("10.0.0.2")),
            [b"198.51.100.7".as_slice(), b"10.0.0.3, \xff"],
        );
        assert_eq!(last.client_ip(&trusted), Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_is_also_counted_per_48() {
        assert_eq!(
            ip_network_bucket(Some(ip("2001:db8:1:2::1"))),
            ip_network_bucket(Some(ip("2001:db8:1:ffff::9")))
        );
        assert_eq!(
            ip_network_bucket(Some(ip("2001:db8:1:2::1"))).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_ne!(
            ip_network_bucket(Some(ip("2001:db8:1::1"))),
            ip_network_bucket(Some(ip("2001:db8:2::1")))
        );
        assert_eq!(ip_network_bucket(Some(ip("192.0.2.1"))), None);
        assert_eq!(ip_network_bucket(None), None);
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
