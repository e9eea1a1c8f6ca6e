//! The three questions the job queue asks of every error.

use std::time::Duration;

use usher_connector::{ConnectorError, ErrorKind, ErrorScope, RemoteId};

#[test]
fn a_rate_limit_is_retryable_not_before_retry_after_and_holds_the_whole_target() {
    let e = ConnectorError::rate_limited(Duration::from_secs(30), "Slack asked to slow down")
        .with_http_status(429)
        .with_remote_code("ratelimited");
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.scope(), ErrorScope::Target);
}

#[test]
fn a_transient_failure_is_retried_for_that_object_only() {
    let plain = ConnectorError::retryable(None, "the target answered 502");
    assert!(plain.is_retryable());
    assert_eq!(plain.retry_after(), None);
    assert_eq!(plain.scope(), ErrorScope::Object);

    let told = ConnectorError::retryable(Some(Duration::from_secs(5)), "503, back in 5 s");
    assert_eq!(told.retry_after(), Some(Duration::from_secs(5)));
}

#[test]
fn an_invalid_object_is_permanent_for_that_object_and_names_the_field() {
    let e = ConnectorError::invalid(
        "userName",
        "spaces are not allowed",
        "the target refused userName \"a b\": spaces are not allowed",
    )
    .with_remote_code("invalidValue")
    .with_http_status(400);
    assert!(!e.is_retryable());
    assert_eq!(e.scope(), ErrorScope::Object);
    assert_eq!(
        e.kind(),
        &ErrorKind::Invalid {
            field: "userName".into(),
            reason: "spaces are not allowed".into()
        }
    );
}

#[test]
fn refused_credentials_stop_the_whole_target_without_retrying() {
    let e = ConnectorError::unauthorized("the bearer token was refused").with_http_status(401);
    assert!(!e.is_retryable());
    assert_eq!(e.retry_after(), None);
    assert_eq!(e.scope(), ErrorScope::Target);
    assert_eq!(
        ConnectorError::fatal("TLS verification failed").scope(),
        ErrorScope::Target
    );
}

#[test]
fn a_conflict_carries_the_existing_id_and_is_resolved_by_adopting_not_retrying() {
    let e = ConnectorError::conflict(Some(RemoteId::new("U42")), "email_taken")
        .with_remote_code("email_taken");
    assert!(!e.is_retryable());
    assert_eq!(e.scope(), ErrorScope::Object);
    assert_eq!(
        e.kind(),
        &ErrorKind::Conflict {
            existing: Some(RemoteId::new("U42"))
        }
    );
    assert!(!ConnectorError::not_found("no such user").is_retryable());
}

#[test]
fn every_error_carries_the_remote_code_the_status_and_a_sentence() {
    let e = ConnectorError::invalid(
        "emails",
        "malformed",
        "the target refused the email address",
    )
    .with_remote_code("invalidValue")
    .with_http_status(400);
    assert_eq!(e.remote_code(), Some("invalidValue"));
    assert_eq!(e.http_status(), Some(400));
    assert_eq!(e.message(), "the target refused the email address");
    assert_eq!(e.to_string(), "the target refused the email address");

    let bare = ConnectorError::retryable(None, "connection refused");
    assert_eq!((bare.remote_code(), bare.http_status()), (None, None));
}
