//! Architecture invariants from docs/ARCHITECTURE.md, checked on the dependency
//! graph that cargo resolves (so a transitive dependency cannot sneak in).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Normal (non-dev, non-build) dependencies of `package`, transitively.
fn dependencies_of(metadata: &Value, package: &str) -> BTreeSet<String> {
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve graph");
    let by_id: HashMap<&str, &Value> = nodes
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let root = names
        .iter()
        .find(|(_, n)| **n == package)
        .map(|(id, _)| *id)
        .expect("package");
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for dep in by_id[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("kinds")
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().expect("pkg");
            if normal && seen.insert(names[dep_id].to_owned()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

#[test]
fn the_core_never_depends_on_web_orm_or_cache() {
    let deps = dependencies_of(&metadata(), "usher-core");
    for forbidden in [
        "actix-web",
        "actix-http",
        "sea-orm",
        "sqlx",
        "redis",
        "openssl",
    ] {
        assert!(
            !deps.contains(forbidden),
            "usher-core depends on {forbidden}: {deps:?}"
        );
    }
}

/// The provisioning core works through ports, as the core does: storage is a
/// dev-dependency only (its tests run on real SQLite and PostgreSQL through
/// usher-store, with sea-orm to create each test's database), and connectors are
/// reached through the connector API. Only normal dependencies are checked.
#[test]
fn the_provisioning_core_never_depends_on_web_orm_or_cache() {
    let deps = dependencies_of(&metadata(), "usher-provisioning");
    for forbidden in [
        "actix-web",
        "actix-http",
        "sea-orm",
        "sqlx",
        "redis",
        "usher-store",
    ] {
        assert!(
            !deps.contains(forbidden),
            "usher-provisioning depends on {forbidden}: {deps:?}"
        );
    }
}

/// The SCIM wire format is shared by the SCIM server and the SCIM connector, so it
/// carries neither's machinery: no web framework, ORM or cache client.
#[test]
fn the_scim_model_never_depends_on_web_orm_or_cache() {
    let deps = dependencies_of(&metadata(), "usher-scim-model");
    for forbidden in [
        "actix-web",
        "actix-http",
        "sea-orm",
        "sqlx",
        "redis",
        "usher-store",
    ] {
        assert!(
            !deps.contains(forbidden),
            "usher-scim-model depends on {forbidden}: {deps:?}"
        );
    }
}

#[test]
fn only_the_binary_depends_on_storage() {
    let metadata = metadata();
    let members: Vec<String> = metadata["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|id| {
            metadata["packages"]
                .as_array()
                .expect("packages")
                .iter()
                .find(|p| p["id"] == *id)
                .and_then(|p| p["name"].as_str().map(str::to_owned))
        })
        .collect();
    for member in members
        .iter()
        .filter(|m| !["usher", "usher-store"].contains(&m.as_str()))
    {
        let deps = dependencies_of(&metadata, member);
        assert!(
            !deps.contains("usher-store"),
            "{member} depends on usher-store"
        );
    }
}

/// Normal (non-dev, non-build) dependencies `package` declares itself.
fn direct_dependencies_of(metadata: &Value, package: &str) -> BTreeSet<String> {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == package)
        .expect("package")["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null())
        .map(|d| d["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn the_connector_api_depends_on_no_usher_crate_and_only_serde_async_trait_thiserror() {
    let metadata = metadata();
    let direct = direct_dependencies_of(&metadata, "usher-connector");
    let allowed = BTreeSet::from(["async-trait", "serde", "thiserror"].map(str::to_owned));
    assert!(
        direct.is_subset(&allowed),
        "usher-connector declares {:?} beyond {allowed:?}",
        direct.difference(&allowed).collect::<Vec<_>>()
    );
    let usher_crates: Vec<String> = dependencies_of(&metadata, "usher-connector")
        .into_iter()
        .filter(|d| d.starts_with("usher") || d == "migrations")
        .collect();
    assert!(
        usher_crates.is_empty(),
        "usher-connector depends on {usher_crates:?}"
    );
}

/// Connectors talk to their target and nothing else of usher: the connector API,
/// the SCIM wire model and the core's pure helpers, never storage, the web
/// framework or the cache (docs/ARCHITECTURE.md, "connectors/").
#[test]
fn connectors_depend_only_on_the_connector_api_the_scim_model_and_the_core() {
    let metadata = metadata();
    let connectors: Vec<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .filter(|n| n.starts_with("usher-connector-"))
        .map(str::to_owned)
        .collect();
    assert!(!connectors.is_empty(), "no connector crate found");
    let allowed = ["usher-connector", "usher-scim-model", "usher-core"];
    for connector in &connectors {
        let deps = dependencies_of(&metadata, connector);
        let usher_crates: Vec<&String> = deps
            .iter()
            .filter(|d| d.starts_with("usher") || *d == "migrations")
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            usher_crates.is_empty(),
            "{connector} depends on {usher_crates:?}"
        );
        for forbidden in ["actix-web", "actix-http", "sea-orm", "sqlx", "redis"] {
            assert!(
                !deps.contains(forbidden),
                "{connector} depends on {forbidden}"
            );
        }
    }
}
