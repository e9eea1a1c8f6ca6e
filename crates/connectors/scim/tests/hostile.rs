//! A target that answers garbage: every answer becomes the right
//! `ConnectorError`, bounded, and nothing panics. The target is a tiny HTTP
//! server on a thread whose first path segment picks the misbehaviour.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::json;
use usher_connector::{Connector, ConnectorError, ErrorKind, PageRequest, RemoteId, UserRecord};

use crate::support::{connector, connector_with_auth};

const BIG: usize = 5 * 1024 * 1024;

/// Starts the hostile target; returns its origin.
fn hostile() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    origin
}

fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    // Read the request body too (the token request has one): closing with
    // unread bytes would reset the connection before the client reads the answer.
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<u64>().ok())?
        })
        .unwrap_or(0)
        .min(65536);
    let _ = std::io::copy(&mut (&mut stream).take(length), &mut std::io::sink());
    let path = head.split(' ').nth(1).unwrap_or("/");
    let scenario = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let scim = "application/scim+json";
    let (status, extra, body): (&str, String, Vec<u8>) = match scenario {
        "ratelimit" => (
            "429 Too Many Requests",
            "Retry-After: 7\r\n".into(),
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"slow down"}"#.to_vec(),
        ),
        "fail" => ("500 Internal Server Error", String::new(), b"oops".to_vec()),
        "html" => (
            "502 Bad Gateway",
            "Content-Type: text/html\r\n".into(),
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        ),
        "html200" => (
            "200 OK",
            "Content-Type: text/html\r\n".into(),
            b"<html><body>Sign in to continue</body></html>".to_vec(),
        ),
        "huge" => ("200 OK", format!("Content-Type: {scim}\r\n"), vec![b' '; BIG]),
        "redirect" => (
            "302 Found",
            "Location: https://elsewhere.example/steal\r\n".into(),
            Vec::new(),
        ),
        "badjson" => (
            "201 Created",
            format!("Content-Type: {scim}\r\n"),
            br#"{"id": "x", oops"#.to_vec(),
        ),
        "invalid" => (
            "400 Bad Request",
            format!("Content-Type: {scim}\r\n"),
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"userName \"a b\" is not acceptable: no spaces"}"#.to_vec(),
        ),
        // Token endpoints (RFC 6749 §5) gone wrong.
        "token-huge" => (
            "200 OK",
            "Content-Type: application/json\r\n".into(),
            format!(r#"{{"access_token":"{}","token_type":"Bearer"}}"#, "a".repeat(BIG)).into_bytes(),
        ),
        "token-html" => (
            "200 OK",
            "Content-Type: text/html\r\n".into(),
            b"<html><body>Sign in to continue</body></html>".to_vec(),
        ),
        "token-none" => (
            "200 OK",
            "Content-Type: application/json\r\n".into(),
            br#"{"token_type":"Bearer","expires_in":3600}"#.to_vec(),
        ),
        "token-spaces" => (
            "200 OK",
            "Content-Type: application/json\r\n".into(),
            br#"{"access_token":"two words\r\nX-Injected: 1","token_type":"Bearer"}"#.to_vec(),
        ),
        "token-mac" => (
            "200 OK",
            "Content-Type: application/json\r\n".into(),
            br#"{"access_token":"abc","token_type":"mac","expires_in":3600}"#.to_vec(),
        ),
        "token-error" => (
            "400 Bad Request",
            "Content-Type: application/json\r\n".into(),
            format!(
                r#"{{"error":"invalid_client","error_description":"bad\u0000 secret\n{}"}}"#,
                "x".repeat(20_000)
            )
            .into_bytes(),
        ),
        "token-badcode" => (
            "401 Unauthorized",
            "Content-Type: application/json\r\n".into(),
            format!(r#"{{"error":"{}"}}"#, "e".repeat(5000)).into_bytes(),
        ),
        "token-down" => ("503 Service Unavailable", "Retry-After: 30\r\n".into(), b"down".to_vec()),
        "silent" => {
            std::thread::sleep(Duration::from_secs(4));
            return;
        }
        _ => ("418 I'm a teapot", String::new(), Vec::new()),
    };
    // "chunked" bodies: no Content-Length, the end is the closed connection, so
    // only reading counts the bytes.
    let length = if path.contains("chunked") {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!("HTTP/1.1 {status}\r\n{extra}{length}Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn against(origin: &str, scenario: &str) -> usher_connector_scim::ScimConnector {
    connector(
        &format!("{origin}/{scenario}"),
        "token",
        json!({"timeout_secs": 1}),
    )
}

async fn delete(origin: &str, scenario: &str) -> ConnectorError {
    against(origin, scenario)
        .delete_user(&RemoteId::new("some-id"))
        .await
        .expect_err("refused")
}

#[tokio::test]
async fn a_429_with_retry_after_is_rate_limited_to_the_second() {
    let origin = hostile();
    let e = delete(&origin, "ratelimit").await;
    assert_eq!(
        e.kind(),
        &ErrorKind::RateLimited {
            retry_after: Duration::from_secs(7)
        }
    );
    assert_eq!(e.http_status(), Some(429));
    assert!(e.message().contains("slow down"), "{e}");
}

#[tokio::test]
async fn a_500_and_an_html_error_page_are_retryable() {
    let origin = hostile();
    let e = delete(&origin, "fail").await;
    assert_eq!(e.kind(), &ErrorKind::Retryable { retry_after: None }, "{e}");
    assert_eq!(e.http_status(), Some(500));
    let e = delete(&origin, "html").await;
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("not SCIM JSON"), "{e}");
    assert!(
        !e.message().contains("<html>"),
        "no raw body in the report: {e}"
    );
}

#[tokio::test]
async fn a_success_that_is_not_json_is_a_clear_retryable_error() {
    let origin = hostile();
    let e = against(&origin, "html200")
        .list_users(&PageRequest::first(10))
        .await
        .expect_err("refused");
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("not JSON"), "{e}");
    let e = against(&origin, "badjson")
        .create_user(&UserRecord::new("id", "ann"))
        .await
        .expect_err("refused");
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("not JSON"), "{e}");
}

/// A 5 MiB answer is refused at max_response_bytes (1 MiB), whether announced
/// by Content-Length or only counted while reading.
#[tokio::test]
async fn a_huge_answer_is_cut_at_max_response_bytes() {
    let origin = hostile();
    for scenario in ["huge", "huge/chunked"] {
        let e = against(&origin, scenario)
            .list_users(&PageRequest::first(10))
            .await
            .expect_err("refused");
        assert!(
            e.message().contains("max_response_bytes"),
            "{scenario}: {e}"
        );
    }
}

/// A redirect could send the token and personal data elsewhere (RFC 9700 §4.11):
/// never followed, and reported as the base URL to fix.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let origin = hostile();
    let e = delete(&origin, "redirect").await;
    assert_eq!(e.kind(), &ErrorKind::Fatal, "{e}");
    assert_eq!(e.http_status(), Some(302));
    assert!(e.message().contains("base_url"), "{e}");
    assert!(e.message().contains("elsewhere.example"), "{e}");
}

#[tokio::test]
async fn a_400_with_scim_type_is_invalid_naming_the_field() {
    let origin = hostile();
    let e = against(&origin, "invalid")
        .create_user(&UserRecord::new("id", "a b"))
        .await
        .expect_err("refused");
    let ErrorKind::Invalid { field, reason } = e.kind() else {
        panic!("{e:?}");
    };
    assert_eq!(field, "userName");
    assert!(reason.contains("no spaces"), "{reason}");
    assert_eq!(e.remote_code(), Some("invalidValue"));
    assert!(e.message().contains("no spaces"), "{e}");
}

#[tokio::test]
async fn a_silent_or_unreachable_target_is_retryable() {
    let origin = hostile();
    let e = delete(&origin, "silent").await;
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("timeout_secs"), "{e}");
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let gone = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let e = delete(&gone, "x").await;
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("cannot connect"), "{e}");
}

/// A connector whose token endpoint is the hostile `scenario`; the SCIM target
/// must never be reached.
fn oauth_against(origin: &str, scenario: &str) -> usher_connector_scim::ScimConnector {
    connector_with_auth(
        &format!("{origin}/never-reached"),
        json!({
            "type": "oauth2_client_credentials",
            "token_url": format!("{origin}/{scenario}"),
            "client_id": "usher",
            "client_secret": "secret",
        }),
        json!({"timeout_secs": 1}),
    )
}

async fn token_failure(origin: &str, scenario: &str) -> ConnectorError {
    oauth_against(origin, scenario)
        .list_users(&PageRequest::first(1))
        .await
        .expect_err("refused")
}

/// A token endpoint answering megabytes is cut at 64 KiB (a token response
/// is a few hundred bytes), whether announced or only counted.
#[tokio::test]
async fn an_oversized_token_response_is_refused_at_a_cap() {
    let origin = hostile();
    for scenario in ["token-huge", "token-huge/chunked"] {
        let e = token_failure(&origin, scenario).await;
        assert_eq!(e.kind(), &ErrorKind::Fatal, "{scenario}: {e}");
        assert!(
            e.message().contains("larger than 65536 bytes"),
            "{scenario}: {e}"
        );
        assert!(e.message().contains("auth.token_url"), "{scenario}: {e}");
    }
}

/// A page, an answer without a token, or a token that would inject a header:
/// all a clear error naming auth.token_url, no panic, nothing sent on.
#[tokio::test]
async fn a_garbage_token_response_is_a_clear_error() {
    let origin = hostile();
    for (scenario, says) in [
        ("token-html", "not a JSON object"),
        ("token-none", "no access_token"),
        ("token-spaces", "cannot go in a header"),
    ] {
        let e = token_failure(&origin, scenario).await;
        assert_eq!(e.kind(), &ErrorKind::Fatal, "{scenario}: {e}");
        assert!(e.message().contains(says), "{scenario}: {e}");
        assert!(e.message().contains("RFC 6749"), "{scenario}: {e}");
        assert!(!e.message().contains("<html>"), "no raw body: {e}");
    }
    let e = token_failure(&origin, "token-mac").await;
    assert_eq!(e.kind(), &ErrorKind::Fatal, "{e}");
    assert!(e.message().contains("Bearer"), "{e}");
}

/// The server's words reach the report without control characters and bounded;
/// a code that is not one (5,000 characters) is not taken as the remote code.
#[tokio::test]
async fn a_token_error_is_unauthorized_with_a_clean_bounded_description() {
    let origin = hostile();
    let e = token_failure(&origin, "token-error").await;
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.remote_code(), Some("invalid_client"));
    assert_eq!(e.http_status(), Some(400));
    assert!(e.message().contains("bad secret"), "{e}");
    assert!(!e.message().chars().any(char::is_control), "{e:?}");
    assert!(e.message().len() < 1000, "{} bytes", e.message().len());

    let e = token_failure(&origin, "token-badcode").await;
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.remote_code(), None);
    assert!(e.message().len() < 1000, "{} bytes", e.message().len());
}

/// A token endpoint that is down may come back: retryable, with its wait.
#[tokio::test]
async fn a_token_endpoint_that_is_down_is_retryable() {
    let origin = hostile();
    let e = token_failure(&origin, "token-down").await;
    assert_eq!(
        e.kind(),
        &ErrorKind::Retryable {
            retry_after: Some(Duration::from_secs(30))
        },
        "{e}"
    );
    let e = token_failure(&origin, "silent").await;
    assert!(e.is_retryable(), "{e}");
    assert!(
        e.message().contains("the token endpoint did not answer"),
        "{e}"
    );
}
