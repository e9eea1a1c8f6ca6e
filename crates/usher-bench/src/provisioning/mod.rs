//! The outbound provisioning scenarios (issue 11, "Benchmark"): usher pushes
//! accounts into SCIM apps declared as `[[apps]]`, here the in-process
//! [`crate::sink`] or the reference `scim2-server`.
//!
//! "Assigned at once" is done the way an administrator would: the users are
//! created in group `bench-users` through usher's own SCIM API while the apps
//! are assigned to nobody; once usher has planned those events (its outbox is
//! empty) it is stopped and started again with the apps assigned to
//! `bench-users`. Start-up syncs `[[apps]]`, and the changed assignment re-plans
//! every app: that start is where the measured window opens.

mod directory;
mod leaver;
mod outbox;
mod peer;
mod push;

use std::time::{Duration, Instant};

use crate::server::{Scratch, Usher};

pub use leaver::leaver;
pub use peer::binary as scim2_server;
pub use push::{Target, provision_push};

/// The group the scenarios assign.
pub const GROUP: &str = "bench-users";

/// A seeding run whose outbox has not shrunk for this long has no planner.
const DRAIN_STALL: Duration = Duration::from_secs(20);

/// What the command line chose.
#[derive(Debug, Clone)]
pub struct Options {
    /// The usher binary.
    pub usher: String,
    /// How many users are assigned.
    pub users: usize,
    /// `rate_limit.concurrency` of every app (the bucket itself never binds).
    pub app_concurrency: u32,
    /// How long the push may take before the run fails.
    pub timeout: Duration,
}

/// One `[[apps]]` entry the bench writes: a SCIM app at `base_url`.
#[derive(Debug, Clone)]
pub struct App {
    /// `name`.
    pub name: String,
    /// The target's SCIM base URL (where `/Users` is).
    pub base_url: String,
    /// The target's bearer token.
    pub token: String,
}

/// The `[[apps]]` tables: assigned to `GROUP`, or to nobody. The rate limit is
/// set so high that it never binds (issue 11 asks for the push without rate
/// limits), with `concurrency` requests in flight per app.
fn apps_config(apps: &[App], assigned: bool, concurrency: u32) -> anyhow::Result<String> {
    let mut out = String::new();
    for app in apps {
        // JSON strings are valid TOML basic strings.
        let (name, url, token, group) = (
            serde_json::to_string(&app.name)?,
            serde_json::to_string(&app.base_url)?,
            serde_json::to_string(&app.token)?,
            serde_json::to_string(GROUP)?,
        );
        let assign = if assigned {
            format!("{{ groups = [{group}] }}")
        } else {
            "{}".to_owned()
        };
        out.push_str(&format!(
            "\n[[apps]]\nname = {name}\nassign = {assign}\n\
             [apps.provisioning]\nconnector = \"scim\"\nmode = \"push\"\n\
             rate_limit = {{ per_minute = 6000000, burst = 100000, concurrency = {concurrency} }}\n\
             [apps.provisioning.settings]\nbase_url = {url}\n\
             auth = {{ type = \"bearer\", token = {token} }}\n"
        ));
    }
    Ok(out)
}

/// usher after the restart that assigned the apps.
#[derive(Debug)]
pub struct Assigned {
    /// The restarted server.
    pub usher: Usher,
    /// When the restart began (the window opens).
    pub restarted: Instant,
    /// How long the restart took until `/readyz`.
    pub ready_after: Duration,
    /// usher's ids of the assigned users, in creation order.
    pub ids: Vec<String>,
}

/// Seeds `opts.users` users in [`GROUP`] with `apps` assigned to nobody, waits
/// for the outbox, and restarts usher with `apps` assigned to the group.
pub async fn assign_at_once(
    opts: &Options,
    scratch: &Scratch,
    apps: &[App],
) -> anyhow::Result<Assigned> {
    let seeding = Usher::launch(
        &opts.usher,
        scratch,
        &apps_config(apps, false, opts.app_concurrency)?,
    )
    .await?;
    let ids = directory::seed(&seeding, opts.users, GROUP).await?;
    let pending = outbox::drain(&scratch.database_url(), DRAIN_STALL).await?;
    if pending > 0 {
        eprintln!(
            "warning: {pending} outbox events were still unplanned after the seeding \
             (no progress for {} s); the restarted usher plans them inside the window",
            DRAIN_STALL.as_secs()
        );
    }
    seeding.stop();
    let restarted = Instant::now();
    let usher = Usher::launch(
        &opts.usher,
        scratch,
        &apps_config(apps, true, opts.app_concurrency)?,
    )
    .await?;
    Ok(Assigned {
        usher,
        restarted,
        ready_after: restarted.elapsed(),
        ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_config_is_toml_with_the_assignment_asked_for() {
        let apps = [App {
            name: "sink1".into(),
            base_url: "http://127.0.0.1:9/app1/v2".into(),
            token: "t\"ok".into(),
        }];
        let text = apps_config(&apps, true, 8).expect("config");
        assert!(
            text.contains("assign = { groups = [\"bench-users\"] }"),
            "{text}"
        );
        assert!(text.contains("token = \"t\\\"ok\""), "{text}");
        assert!(text.contains("concurrency = 8"), "{text}");
        let nobody = apps_config(&apps, false, 8).expect("config");
        assert!(nobody.contains("assign = {}\n"), "{nobody}");
    }
}
