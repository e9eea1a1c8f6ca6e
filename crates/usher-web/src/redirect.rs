//! Where the browser may be sent.

/// True for a path on this origin: starts with one `/` and cannot be read by a
/// browser as another host. Open-redirect defence (RFC 9700 §4.11): `//evil.test`
/// and `/\evil.test` are network-path references to another host, and browsers
/// drop tabs and newlines inside URLs, so `/\t/evil.test` would become
/// `//evil.test`; control characters would also split the `Location` header.
pub(crate) fn is_same_origin_path(target: &str) -> bool {
    let bytes = target.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && target.len() <= 4096
        && !target.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The origin (`https://app.example:8443`) of an absolute http(s) URL, in a form
/// safe to put in a CSP source list; `None` when it cannot be expressed there
/// (CSP host-sources have no IPv6 literals or user info) or looks odd.
pub(crate) fn csp_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved).
pub(crate) fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_only() {
        assert!(is_same_origin_path("/oidc/authorize/resume?r=abc"));
        assert!(is_same_origin_path("/"));
        for bad in [
            "",
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "/\t/evil.test",
            "/a\r\nSet-Cookie: x=y",
            "javascript:alert(1)",
            "evil.test",
        ] {
            assert!(!is_same_origin_path(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn origins_for_csp() {
        assert_eq!(
            csp_origin("https://App.example:8443/cb?state=x").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            csp_origin("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(csp_origin("http://[::1]:3000/"), None);
        assert_eq!(csp_origin("https://a@b.example/"), None);
        assert_eq!(csp_origin("https://a.example; script-src *"), None);
        assert_eq!(csp_origin("javascript:alert(1)"), None);
    }

    #[test]
    fn encodes_components() {
        assert_eq!(encode_component("/a?b=c&d"), "%2Fa%3Fb%3Dc%26d");
    }
}
