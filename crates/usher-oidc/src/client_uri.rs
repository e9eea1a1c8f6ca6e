//! What a client may register as a redirect, post-logout redirect or back-channel
//! logout URI. Checked once, when the registration is read; at run time the
//! registered strings are matched exactly (RFC 9700 §2.1).

use openidconnect::url::Url;

use crate::Client;

/// Why a registered URI is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriRefusal {
    /// RFC 6749 §3.1.2: an absolute URI without a fragment; exact matching
    /// leaves no room for wildcards.
    #[error("expected an absolute http(s) URI without fragment or wildcard")]
    Malformed,
    /// RFC 9700 §2.1 and RFC 8252 §7.3: codes (and logout tokens) must not cross a
    /// network in clear text, where anyone on the path can read and replay them.
    #[error(
        "plain http is allowed only on a loopback host (127.0.0.1, [::1] or localhost): \
         use https, or mark a client that only ever runs on a test machine \
         `development = true`"
    )]
    PlainHttpOnRemoteHost,
}

/// Which of a client's URIs was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriField {
    /// `redirect_uris[index]`.
    Redirect(usize),
    /// `post_logout_redirect_uris[index]`.
    PostLogoutRedirect(usize),
    /// `backchannel_logout_uri`.
    BackchannelLogout,
}

/// Checks one URI a client registers. `development` lifts the https rule only.
///
/// The URI is parsed as a browser parses it (WHATWG URL, which the `url` crate
/// implements), so the host judged here is the host the browser will send the
/// code to: `http://localhost@app.example.com/` is a remote host.
pub fn check_registered_uri(uri: &str, development: bool) -> Result<(), UriRefusal> {
    let parsed = Url::parse(uri).map_err(|_| UriRefusal::Malformed)?;
    let well_formed = matches!(parsed.scheme(), "http" | "https")
        && parsed.host().is_some()
        && !uri.contains('#')
        && !uri.contains('*');
    if !well_formed {
        return Err(UriRefusal::Malformed);
    }
    if parsed.scheme() == "http" && !development && !is_loopback(&parsed) {
        return Err(UriRefusal::PlainHttpOnRemoteHost);
    }
    Ok(())
}

/// RFC 8252 §7.3 and §8.3: the loopback rule every URL that carries trust
/// follows ([`usher_core::transport`]).
fn is_loopback(url: &Url) -> bool {
    url.host_str()
        .is_some_and(usher_core::transport::is_loopback_host)
}

impl Client {
    /// Checks every URI the client registered, in order; the first refusal names
    /// the field. `development` is the registration's development flag.
    pub fn check_uris(&self, development: bool) -> Result<(), (UriField, UriRefusal)> {
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            check_registered_uri(uri, development).map_err(|e| (UriField::Redirect(i), e))?;
        }
        for (i, uri) in self.post_logout_redirect_uris.iter().enumerate() {
            check_registered_uri(uri, development)
                .map_err(|e| (UriField::PostLogoutRedirect(i), e))?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_registered_uri(uri, development).map_err(|e| (UriField::BackchannelLogout, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_on_loopback_only() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:9000/cb",
            "http://127.8.9.10/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
            "http://LOCALHOST/cb",
        ] {
            assert_eq!(check_registered_uri(ok, false), Ok(()), "{ok}");
        }
        for remote in [
            "http://app.example.com/cb",
            "http://10.0.0.1/cb",
            "http://[::2]/cb",
            "http://localhost.example.com/cb",
            "http://localhost@app.example.com/cb",
            "http://127.0.0.1.nip.io/cb",
        ] {
            assert_eq!(
                check_registered_uri(remote, false),
                Err(UriRefusal::PlainHttpOnRemoteHost),
                "{remote}"
            );
            assert_eq!(check_registered_uri(remote, true), Ok(()), "{remote}");
        }
    }

    #[test]
    fn development_lifts_only_the_https_rule() {
        for bad in [
            "app.example.com/cb",
            "ftp://app.example.com/cb",
            "http://app.example.com/cb#x",
            "https://*.example.com/cb",
        ] {
            assert_eq!(
                check_registered_uri(bad, true),
                Err(UriRefusal::Malformed),
                "{bad}"
            );
        }
    }
}
