//! A target that answers garbage: every answer becomes the right
//! `ConnectorError`, bounded, and nothing panics. The target is a tiny HTTP
//! server on a thread whose first path segment picks the misbehaviour.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::json;
use usher_connector::{Connector, ConnectorError, ErrorKind, PageRequest, RemoteId, UserRecord};

use crate::support::connector;

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
