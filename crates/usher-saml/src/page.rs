//! The IdP's own HTML: the error page (for requests that must not be answered at
//! an ACS: unknown SP, unregistered ACS URL, unreadable request), and the
//! auto-submitting form that carries a response to the ACS (SAML Bindings §3.5.4).
//! Self-contained: nothing is loaded from anywhere.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::xml::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f;\
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{background:#fff;max-width:32rem;margin:1rem;padding:2rem;border-radius:.75rem;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.3rem;margin-top:0}";

/// The script that submits the form; its hash is the only script the CSP allows.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

fn hardened(status: StatusCode, csp: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp.to_owned()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// An error page; never a form, never a redirect.
pub fn error_page(status: StatusCode, heading: &str, detail: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{heading} - usher</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <main>\n<h1>{heading}</h1>\n<p>{detail}</p>\n\
         <p>Return to the application and try again. If this keeps happening, tell \
         the application's administrator.</p>\n</main>\n</body>\n</html>\n",
        heading = escape(heading),
        detail = escape(detail),
    );
    hardened(
        status,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
    )
    .body(body)
}

/// A 400 error page.
pub fn bad_request(heading: &str, detail: &str) -> HttpResponse {
    error_page(StatusCode::BAD_REQUEST, heading, detail)
}

/// The origin (`scheme://host[:port]`) of an absolute URL, for `form-action`.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let o = url.get(..scheme.len() + "://".len() + authority)?;
    // A CSP source must not be able to smuggle a directive.
    (!o.contains([';', ',', ' ', '\'', '"'])).then_some(o)
}

/// The HTTP-POST binding's form (Bindings §3.5.4): posts `SAMLResponse` and
/// `RelayState` to the ACS, by script when there is one, by the button otherwise.
/// The CSP allows exactly this script (by hash) and forms to the ACS's origin.
pub fn post_form(
    acs_url: &str,
    saml_response_b64: &str,
    relay_state: Option<&str>,
) -> HttpResponse {
    post_form_field(acs_url, "SAMLResponse", saml_response_b64, relay_state)
}

/// The same form carrying `field` (`SAMLResponse`, or `SAMLRequest` when usher,
/// as a service provider, posts an AuthnRequest to an upstream IdP).
pub fn post_form_field(
    acs_url: &str,
    field: &str,
    saml_response_b64: &str,
    relay_state: Option<&str>,
) -> HttpResponse {
    let script_hash = STANDARD.encode(Sha256::digest(SUBMIT_SCRIPT.as_bytes()));
    let form_action = origin(acs_url).unwrap_or("'none'");
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">\n",
                escape(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Signing in - usher</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"{field}\" value=\"{response}\">\n{relay}\
         <noscript><p>Your browser does not run scripts; press the button to continue.</p>\
         <button type=\"submit\">Continue</button></noscript>\n</form>\n</main>\n\
         <script>{SUBMIT_SCRIPT}</script>\n</body>\n</html>\n",
        action = escape(acs_url),
        response = escape(saml_response_b64),
    );
    hardened(
        StatusCode::OK,
        &format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; \
             form-action {form_action}; frame-ancestors 'none'"
        ),
    )
    .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://sp.example:8443/acs?x=1"),
            Some("https://sp.example:8443")
        );
        assert_eq!(origin("https://sp.example"), Some("https://sp.example"));
        assert_eq!(origin("https://a;b/"), None);
        assert_eq!(origin("no-scheme"), None);
    }
}
