//! The shipped example configurations are accepted as they are.

use std::path::PathBuf;

use crate::support::{Scratch, run, stderr, usher};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn the_production_example_passes_check_config() {
    // The example reads its secrets from systemd credentials; here they come from
    // scratch files named by the same keys in the environment.
    let dir = Scratch::new();
    let db = dir.write(
        "database-url",
        "postgres://usher:secret@db.internal:5432/usher\n",
    );
    let redis = dir.write("redis-url", "redis://:secret@redis.internal:6379/0\n");
    let key = dir.write(
        "master-key",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    );
    let out = run(usher(&dir.0)
        .arg("--config")
        .arg(repo_file("deploy/production/usher.toml"))
        .env("USHER_DATABASE__URL_FILE", db)
        .env("USHER_REDIS__URL_FILE", redis)
        .env("USHER_KEYS__MASTER_KEY_FILE", key)
        .arg("check-config"));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_development_example_passes_check_config() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0)
        .arg("--config")
        .arg(repo_file("deploy/dev/usher.toml"))
        .arg("check-config"));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_systemd_unit_runs_check_config_before_serving() {
    let unit = std::fs::read_to_string(repo_file("deploy/systemd/usher.service")).expect("unit");
    assert!(
        unit.contains(
            "ExecStartPre=/usr/local/bin/usher --config /etc/usher/usher.toml check-config"
        )
    );
    assert!(unit.contains("serve"));
}
