//! The OP's own error page, for the requests it must not redirect (unknown client,
//! unregistered redirect_uri: RFC 6749 §4.1.2.1, RFC 9700 §4.11) and for logout
//! requests it refuses. Self-contained on purpose: the OP does not depend on
//! `usher-web`, and a page that loads nothing cannot be abused to load anything.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;

/// HTML-escapes text (the five characters that matter in element content and
/// attribute values).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error page: `heading` and `detail` say what went wrong, and the page says
/// what to do. Status `status` (400 unless the request was oversized).
pub(crate) fn error_page(status: StatusCode, heading: &str, detail: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{heading} - usher</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <main>\n<h1>{heading}</h1>\n<p>{detail}</p>\n\
         <p>Return to the application and try again. If this keeps happening, tell \
         the application's administrator.</p>\n</main>\n</body>\n</html>\n",
        heading = escape(heading),
        detail = escape(detail),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            // The only style is inline in this page; nothing else may load, and no
            // one may frame it.
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A 400 error page.
pub(crate) fn bad_request(heading: &str, detail: &str) -> HttpResponse {
    error_page(StatusCode::BAD_REQUEST, heading, detail)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f;\
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{background:#fff;max-width:32rem;margin:1rem;padding:2rem;border-radius:.75rem;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.3rem;margin-top:0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
