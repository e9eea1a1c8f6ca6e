//! Which URLs may carry what must be neither read nor changed on the way:
//! authorization codes to an OIDC client's redirect URI, tokens and codes to an
//! upstream OP, SAML metadata (the certificates and endpoints a trust decision
//! rests on). The rule is one: https to any host, or plain http only to a
//! loopback host (tests, an IdP on the same machine), where no network lies
//! between the two ends (RFC 8252 §8.3 makes the same exception for loopback
//! redirects). Callers parse the URL with the parser that will be used to reach
//! it and pass its scheme and host, so `http://127.0.0.1@evil.example/` is
//! judged by its real host.

/// Whether `host` (as a URL parser gives it: `localhost`, `127.0.0.1`, `[::1]`)
/// names this machine. 127.0.0.0/8 and `::1` never leave it (RFC 8252 §8.3);
/// `localhost` counts too: browsers and resolvers answer it with loopback
/// without asking DNS (RFC 6761 §6.3, WHATWG "potentially trustworthy origin"),
/// and local tools use it; IP literals remain the better choice.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a URL with this scheme and host is protected in transit: https to
/// a named host, or http to a loopback host. Schemes are compared as RFC 3986
/// §3.1 says (case-insensitively).
pub fn is_protected(scheme: &str, host: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    scheme.eq_ignore_ascii_case("https")
        || (scheme.eq_ignore_ascii_case("http") && is_loopback_host(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        assert!(is_protected("https", "idp.example.com"));
        assert!(is_protected("HTTPS", "idp.example.com"));
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "localhost",
            "LocalHost",
            "[::1]",
            "::1",
        ] {
            assert!(is_protected("http", host), "{host}");
        }
        for host in [
            "idp.example.com",
            "10.0.0.1",
            "192.0.2.2",
            "[fd00::2]",
            "localhost.evil.example",
        ] {
            assert!(!is_protected("http", host), "{host}");
        }
        assert!(!is_protected("https", ""));
        assert!(!is_protected("ftp", "127.0.0.1"));
    }
}
