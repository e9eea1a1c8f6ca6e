//! `usher serve` with no configuration at all: SQLite under ./data, memory for
//! ephemeral state, a generated master key; health, readiness, metrics, request ids,
//! JSON logs and a graceful stop on SIGTERM.

use std::time::Duration;

use crate::support::{Scratch, Server, usher};

#[tokio::test]
async fn zero_config_serve_is_ready_on_sqlite_and_stops_on_sigterm() {
    let dir = Scratch::new();
    let mut server = Server::start(usher(&dir.0)).await;
    let ready = server.wait_ready().await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"]["backend"], "sqlite");
    assert_eq!(ready["ephemeral"]["backend"], "memory");

    assert!(
        dir.0.join("data/usher.db").is_file(),
        "SQLite file created on first start"
    );
    let key_file = dir.0.join("data/master.key");
    assert!(
        key_file.is_file(),
        "master key generated into the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "master key readable by its owner only");
    }

    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let (ok, log) = server.terminate();
    assert!(ok, "graceful stop exits 0: {log}");
    assert!(
        log.contains("generated a master key"),
        "warning logged: {log}"
    );
    assert!(log.contains("generated signing keys"), "{log}");

    // A second start reuses the key and the signing keys instead of making new ones.
    let mut again = Server::start(usher(&dir.0)).await;
    again.wait_ready().await;
    let (ok, log) = again.terminate();
    assert!(ok, "{log}");
    assert!(!log.contains("generated"), "nothing regenerated: {log}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_lands_in_metrics() {
    let dir = Scratch::new();
    let mut cmd = usher(&dir.0);
    cmd.args(["--log-format", "json"]);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    let client = reqwest::Client::new();

    let res = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    let generated = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    let res = client
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(
        res.headers()["x-request-id"],
        "trace-42",
        "a plain caller id is kept"
    );

    // Log injection: an id that could forge log fields is replaced, never echoed.
    let forged = "x level=error msg=forged";
    let res = client
        .get(server.url("/healthz"))
        .header("x-request-id", forged)
        .send()
        .await
        .expect("healthz");
    assert_ne!(res.headers()["x-request-id"], forged);

    for i in 0..5 {
        let res = client
            .get(server.url(&format!("/no/such/{i}")))
            .send()
            .await
            .expect("404");
        assert_eq!(res.status(), 404);
    }

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("body");
    // Start-up polling adds its own /healthz requests, so at least the three above.
    let healthz = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"usher_http_requests_total{route="/healthz",method="GET",status="200"} "#,
            )
        })
        .and_then(|n| n.parse::<u64>().ok())
        .expect("healthz counted");
    assert!(healthz >= 3, "{text}");
    // Random paths share one label: no unbounded series.
    assert!(
        text.contains(
            r#"usher_http_requests_total{route="unmatched",method="GET",status="404"} 5"#
        ),
        "{text}"
    );
    assert!(!text.contains("/no/such"), "{text}");
    assert!(
        text.contains("usher_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"usher_db_pool_connections{state="idle"}"#),
        "{text}"
    );
    assert!(text.contains("usher_ready 1"), "{text}");

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["request_id"] == "trace-42" || l["span"]["request_id"] == "trace-42"),
        "request id in the JSON log: {log}"
    );
}

#[tokio::test]
async fn an_unreachable_database_leaves_a_live_process_that_is_not_ready() {
    let dir = Scratch::new();
    let mut cmd = usher(&dir.0);
    cmd.env("USHER_DATABASE__URL", "postgres://usher@127.0.0.1:1/usher")
        .env(
            "USHER_KEYS__MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        );
    let mut server = Server::start(cmd).await;
    // The first attempt gives up after the connect timeout; then the reason is known.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let res = reqwest::get(server.url("/readyz")).await.expect("readyz");
        assert_eq!(res.status(), 503);
        let body: serde_json::Value =
            serde_json::from_str(&res.text().await.expect("body")).expect("JSON");
        assert_eq!(body["status"], "not_ready");
        if body["reason"]
            .as_str()
            .expect("reason")
            .contains("127.0.0.1:1")
        {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reason given: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        body["reason"]
            .as_str()
            .expect("reason")
            .contains("unavailable"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        server.child.try_wait().expect("poll").is_none(),
        "still running, retrying"
    );
    assert_eq!(
        reqwest::get(server.url("/healthz"))
            .await
            .expect("healthz")
            .status(),
        200
    );
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(metrics.contains("usher_ready 0"), "{metrics}");

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(log.contains("retrying"), "{log}");
}
