//! usher on PostgreSQL and Redis, as in production: readiness, migrations, the key
//! commands, and the refusal to start with the wrong master key.

use std::time::Duration;

use crate::support::{
    Scratch, Server, TempDatabase, postgres_url, redis_url, run, stderr, stdout, usher,
};

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_MASTER_KEY: &str = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

fn production_like(
    dir: &Scratch,
    db: &TempDatabase,
    redis: &str,
    prefix: &str,
) -> std::process::Command {
    let mut cmd = usher(&dir.0);
    cmd.env("USHER_DATABASE__URL", &db.url)
        .env("USHER_REDIS__URL", redis)
        .env("USHER_REDIS__KEY_PREFIX", prefix)
        .env("USHER_KEYS__MASTER_KEY", MASTER_KEY);
    cmd
}

#[tokio::test]
async fn postgres_and_redis_serve_is_ready_and_keys_rotate() {
    let (Some(pg), Some(redis)) = (postgres_url(), redis_url()) else {
        return;
    };
    let db = TempDatabase::create(&pg).await;
    let dir = Scratch::new();
    let prefix = format!("usher_test_{}:", uuid::Uuid::new_v4().simple());

    let out = run(production_like(&dir, &db, &redis, &prefix).arg("migrate"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("postgres"), "{}", stdout(&out));

    let mut server = Server::start(production_like(&dir, &db, &redis, &prefix)).await;
    let ready = server.wait_ready().await;
    assert_eq!(ready["database"]["backend"], "postgres");
    assert_eq!(ready["ephemeral"]["backend"], "redis");
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(
        !dir.0.join("data/master.key").exists(),
        "no generated key when one is configured"
    );

    let out = run(production_like(&dir, &db, &redis, &prefix).args(["keys", "list"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    assert_eq!(listing.matches(" active ").count(), 3, "{listing}");
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(listing.contains(alg), "{listing}");
    }

    let out = run(production_like(&dir, &db, &redis, &prefix).args([
        "keys",
        "rotate",
        "--algorithm",
        "RS256",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("stays published until"),
        "{}",
        stdout(&out)
    );
    let out = run(production_like(&dir, &db, &redis, &prefix).args(["keys", "list"]));
    let listing = stdout(&out);
    assert_eq!(listing.matches(" active ").count(), 3, "{listing}");
    assert_eq!(listing.matches(" published ").count(), 1, "{listing}");

    let out = run(production_like(&dir, &db, &redis, &prefix).args([
        "keys",
        "rotate",
        "--algorithm",
        "HS256",
    ]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("RS256, ES256 or EdDSA"),
        "{}",
        stderr(&out)
    );

    // The wrong master key: a clear refusal, and the stored keys stay as they were.
    let out = run(production_like(&dir, &db, &redis, &prefix)
        .env("USHER_KEYS__MASTER_KEY", OTHER_MASTER_KEY)
        .args(["keys", "list"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another master key"),
        "{}",
        stderr(&out)
    );
    let mut cmd = production_like(&dir, &db, &redis, &prefix);
    cmd.env("USHER_KEYS__MASTER_KEY", OTHER_MASTER_KEY);
    let server = Server::spawn(cmd);
    let (ok, log) = server.wait_exit(Duration::from_secs(30));
    assert!(!ok, "refuses to run: {log}");
    assert!(log.contains("another master key"), "{log}");
    let out = run(production_like(&dir, &db, &redis, &prefix).args(["keys", "list"]));
    assert_eq!(
        stdout(&out).matches(" active ").count(),
        3,
        "keys untouched: {}",
        stdout(&out)
    );

    db.drop_now().await;
}

#[tokio::test]
async fn a_database_that_appears_after_start_is_picked_up_by_the_retries() {
    let Some(pg) = postgres_url() else { return };
    let dir = Scratch::new();
    // Reserve a name, then drop the database: usher starts before it exists.
    let db = TempDatabase::create(&pg).await;
    let (name, url) = (db.name.clone(), db.url.clone());
    db.drop_now().await;

    let mut cmd = usher(&dir.0);
    cmd.env("USHER_DATABASE__URL", &url)
        .env("USHER_KEYS__MASTER_KEY", MASTER_KEY);
    let mut server = Server::start(cmd).await;
    let res = reqwest::get(server.url("/readyz")).await.expect("readyz");
    assert_eq!(res.status(), 503, "not ready without its database");

    let db = TempDatabase::recreate(&pg, &name).await;
    let ready = server.wait_ready().await;
    assert_eq!(ready["database"]["backend"], "postgres");
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(log.contains("retrying"), "{log}");
    db.drop_now().await;
}
