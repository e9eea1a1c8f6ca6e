//! A target that fails: rate limits, errors, refusals. A small SCIM-speaking HTTP
//! server on a thread, whose first path segment picks the misbehaviour and which
//! records when every request arrived.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use usher_core::outbound::AttemptResult;
use usher_provisioning::{Limits, Outcome, Pace, PacedConnector, TargetTrouble};

use crate::support::{App, account, connector, settings, user};

/// Every request the target saw: method, path, when.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String, Instant)>>>);

impl Seen {
    fn writes(&self) -> Vec<Instant> {
        let seen = self.0.lock().expect("seen");
        seen.iter()
            .filter(|(m, _, _)| m == "POST")
            .map(|(_, _, t)| *t)
            .collect()
    }
}

/// Starts the target; returns its origin and what it saw.
fn target() -> (String, Seen) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Seen::default();
    let posts = Arc::new(Mutex::new(0u32));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = record.clone();
            let posts = posts.clone();
            std::thread::spawn(move || answer(stream, &record, &posts));
        }
    });
    (origin, seen)
}

fn answer(mut stream: TcpStream, seen: &Seen, posts: &Mutex<u32>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut words = head.split(' ');
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("/").to_owned();
    seen.0
        .lock()
        .expect("seen")
        .push((method.clone(), path.clone(), Instant::now()));
    let scenario = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let scim_error = |status: &str, scim_type: &str, detail: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status, "scimType": scim_type, "detail": detail,
        })
        .to_string()
    };
    let created = |n: u32| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": format!("remote-{n}"), "userName": "x",
        })
        .to_string()
    };
    let (status, extra, reply): (&str, &str, String) = if path.contains("/ServiceProviderConfig") {
        (
            "200 OK",
            "",
            json!({"patch": {"supported": true}, "filter": {"supported": true, "maxResults": 100}})
                .to_string(),
        )
    } else if method == "GET" {
        (
            "200 OK",
            "",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "Resources": [],
            })
            .to_string(),
        )
    } else {
        let n = {
            let mut posts = posts.lock().expect("posts");
            *posts += 1;
            *posts
        };
        match scenario {
            "ratelimit" => (
                "429 Too Many Requests",
                "Retry-After: 2\r\n",
                scim_error("429", "", "slow down"),
            ),
            // Two failures, then it works.
            "flaky" if n <= 2 => ("500 Internal Server Error", "", "oops".into()),
            "flaky" => ("201 Created", "", created(n)),
            "picky" if body.contains("bad name") => (
                "400 Bad Request",
                "",
                scim_error(
                    "400",
                    "invalidValue",
                    "userName \"bad name\" is not acceptable: no spaces",
                ),
            ),
            "picky" => ("201 Created", "", created(n)),
            "locked" => (
                "401 Unauthorized",
                "",
                scim_error("401", "", "invalid token"),
            ),
            _ => ("418 I'm a teapot", "", String::new()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(reply.as_bytes());
}

/// An app on `origin/scenario`, paced as a sender paces it.
fn app(origin: &str, scenario: &str, extra: serde_json::Value) -> App {
    let scim = Arc::new(connector(&format!("{origin}/{scenario}"), "token"));
    let pace = Arc::new(Pace::new(Limits {
        bucket: None,
        concurrency: 4,
    }));
    App::new(PacedConnector::new(scim, pace), settings(extra))
}

#[tokio::test]
async fn a_429_pauses_the_app_and_nothing_is_sent_before_retry_after() {
    let (origin, seen) = target();
    let app = app(&origin, "ratelimit", json!({}));
    let (a, ada) = user("ada");
    let first = app.deliver(a, &account(&ada)).await;
    let Outcome::Pause { trouble, .. } = &first.outcome else {
        panic!("the app waits: {first:?}");
    };
    assert_eq!(
        trouble,
        &TargetTrouble::RateLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    assert_eq!(first.report.http_status, Some(429));
    let limited_at = *seen.writes().last().expect("the create was sent");

    // Another job of the same app, at once: refused without a request.
    let (b, bob) = user("bob");
    let second = app.deliver(b, &account(&bob)).await;
    assert!(
        matches!(second.outcome, Outcome::Pause { .. }),
        "{second:?}"
    );
    assert_eq!(seen.writes().len(), 1, "no request before Retry-After");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.deliver(b, &account(&bob)).await;
    let writes = seen.writes();
    assert_eq!(writes.len(), 2, "sent again once the wait is over");
    assert!(writes[1] >= limited_at + Duration::from_secs(2));
}

#[tokio::test]
async fn server_errors_back_off_then_succeed_or_park_when_out_of_attempts() {
    let (origin, _) = target();
    let app = app(&origin, "flaky", json!({}));
    let (object, record) = user("ada");
    for attempt in 1..=2 {
        let before = time::OffsetDateTime::now_utc();
        let done = app.deliver_as(object, &account(&record), attempt).await;
        let Outcome::Retry { at, error } = &done.outcome else {
            panic!("retried: {done:?}");
        };
        // Full jitter: somewhere between now and the attempt's ceiling (1 s, 2 s).
        let ceiling = Duration::from_secs(1 << (attempt - 1));
        assert!(
            *at >= before && *at <= before + ceiling + Duration::from_secs(1),
            "{at}"
        );
        assert!(!error.is_empty());
        assert_eq!(done.report.result, AttemptResult::Retry);
        assert_eq!(done.report.http_status, Some(500));
        assert_eq!(done.report.attempt, attempt);
    }
    let done = app.deliver_as(object, &account(&record), 3).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    assert_eq!(app.mapping(object).expect("mapped").remote_id, "remote-3");

    let (origin, _) = target();
    let app = app_with_attempts(&origin, 2);
    let last = app.deliver_as(object, &account(&record), 2).await;
    let Outcome::Park { error } = &last.outcome else {
        panic!("parked: {last:?}");
    };
    assert!(error.starts_with("gave up after 2 attempts"), "{error}");
    assert_eq!(last.report.result, AttemptResult::Failed);
}

fn app_with_attempts(origin: &str, max: u32) -> App {
    app(origin, "flaky", json!({"max_attempts": max}))
}

#[tokio::test]
async fn a_value_the_app_refuses_parks_that_user_and_the_others_go_on() {
    let (origin, _) = target();
    let app = app(&origin, "picky", json!({}));
    let (bad, bad_record) = user("bad name");
    let (good, good_record) = user("good");
    let refused = app.deliver(bad, &account(&bad_record)).await;
    let Outcome::Park { error } = &refused.outcome else {
        panic!("parked: {refused:?}");
    };
    assert!(error.contains("userName"), "names the field: {error}");
    assert_eq!(refused.report.http_status, Some(400));
    assert_eq!(refused.report.remote_code.as_deref(), Some("invalidValue"));
    assert!(app.mapping(bad).is_none());
    let done = app.deliver(good, &account(&good_record)).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    assert!(app.mapping(good).is_some());
}

#[tokio::test]
async fn refused_credentials_pause_the_whole_app_with_the_reason() {
    let (origin, _) = target();
    let app = app(&origin, "locked", json!({}));
    let (object, record) = user("ada");
    let done = app.deliver(object, &account(&record)).await;
    let Outcome::Pause { trouble, .. } = &done.outcome else {
        panic!("the app waits: {done:?}");
    };
    let TargetTrouble::Failing { reason } = trouble else {
        panic!("failing: {trouble:?}");
    };
    assert!(reason.contains("token"), "says what to fix: {reason}");
    assert_eq!(done.report.http_status, Some(401));
    assert!(
        done.remote.is_none(),
        "nothing recorded: the job goes back as it was"
    );
}

#[tokio::test]
async fn an_unreadable_job_is_parked_not_panicked_on() {
    let (origin, _) = target();
    let app = app(&origin, "picky", json!({}));
    let (object, _) = user("ada");
    let mut job = crate::support::job(
        app.id,
        object,
        &usher_provisioning::Desired::Absent {
            action: usher_core::outbound::DeprovisionAction::Delete,
        },
        1,
    );
    job.desired = json!({"state": "user", "record": {"nonsense": true}});
    let ctx = usher_provisioning::Delivery {
        app: app.id,
        settings: &app.settings,
        connector: &*app.connector,
        remote: &app.book,
        backoff: &app.backoff,
        clock: &usher_core::ports::SystemClock,
    };
    let done = usher_provisioning::deliver(&ctx, &job).await;
    let Outcome::Park { error } = &done.outcome else {
        panic!("parked: {done:?}");
    };
    assert!(error.contains("unreadable"), "{error}");
}
