//! usher's benchmark scenarios. Each starts the real `usher` binary (pinned to CPU 0
//! with `taskset` when available, one worker), waits until it is ready, drives load
//! from this process (run it pinned to CPU 1), and prints throughput, median and p99,
//! and the CPU time the server used in the measured window (`/proc/<pid>/stat`).
//!
//! ```text
//! usher-bench --usher target/release/usher client-credentials RS256
//! usher-bench --usher target/release/usher password-login
//! usher-bench --usher target/release/usher saml-sso
//! usher-bench --usher target/release/usher scim-create
//! usher-bench --usher target/release/usher provision-push [--users N] [--sqlite] [--target scim2-server]
//! usher-bench --usher target/release/usher leaver [--users N] [--leavers M] [--sqlite]
//! ```
//! `scripts/bench/sso.sh` builds both in release mode and runs the sign-in
//! scenarios; `scripts/bench/scim.sh` runs `scim-create`, which runs usher on a
//! scratch PostgreSQL database (`usher_bench_<pid>` on the server of
//! `USHER_BENCH_POSTGRES_URL`, default [`postgres::DEFAULT_ADMIN_URL`], dropped
//! afterwards). The other scenarios use SQLite in a scratch directory.
//!
//! `provision-push` and `leaver` (`scripts/bench/provisioning.sh`) measure outbound
//! provisioning into SCIM apps: the bench's own SCIM sink ([`sink`], served from
//! this process) or, with `--target scim2-server`, the reference server that
//! scripts/peers.sh installs (`--scim2-server PATH` to name another). They run
//! usher on a scratch PostgreSQL database, or on SQLite with `--sqlite`; see
//! [`provisioning`] for how users are assigned at once.

mod cpu;
mod flows;
mod memory;
mod postgres;
mod provisioning;
mod report;
mod saml_status;
mod server;
mod sink;

use std::time::{Duration, Instant};

use anyhow::Context;

const USAGE: &str = "usage: usher-bench --usher PATH (client-credentials RS256|ES256|EdDSA | password-login | saml-sso | scim-create) [--seconds N] [--concurrency N]
       usher-bench --usher PATH provision-push [--users N] [--target sink|scim2-server] [--scim2-server PATH] [--sqlite] [--app-concurrency N] [--timeout SECONDS]
       usher-bench --usher PATH leaver [--users N] [--leavers M] [--sqlite] [--app-concurrency N] [--timeout SECONDS]";

/// Flags that take no value.
const SWITCHES: &[&str] = &["--sqlite"];

/// The scenarios that need a scratch PostgreSQL database (the provisioning ones
/// unless `--sqlite`).
fn on_postgres(scenario: &str, sqlite: bool) -> bool {
    scenario == "scim-create" || (PROVISIONING.contains(&scenario) && !sqlite)
}

const PROVISIONING: &[&str] = &["provision-push", "leaver"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let usher = flag("--usher").context(USAGE)?;
    let seconds: u64 = flag("--seconds")
        .map_or(Ok(10), |s| s.parse())
        .context(USAGE)?;
    let positional: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let is_flag_value = *i > 0
                && args[i - 1].starts_with("--")
                && !SWITCHES.contains(&args[i - 1].as_str());
            !(a.starts_with("--") || is_flag_value)
        })
        .map(|(_, a)| a)
        .collect();
    let scenario = positional.first().map(|s| s.as_str()).context(USAGE)?;
    let sqlite = args.iter().any(|a| a == "--sqlite");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let database = if on_postgres(scenario, sqlite) {
            let admin = std::env::var("USHER_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| postgres::DEFAULT_ADMIN_URL.to_owned());
            Some(postgres::ScratchDatabase::create(&admin).await?)
        } else {
            None
        };
        let outcome = if PROVISIONING.contains(&scenario) {
            provision(&usher, scenario, &flag, database.as_ref()).await
        } else {
            run(
                &usher,
                scenario,
                &positional,
                &flag,
                seconds,
                database.as_ref(),
            )
            .await
        };
        if let Some(database) = database {
            database.drop_now().await?;
        }
        outcome
    })
}

/// Runs one outbound provisioning scenario.
async fn provision(
    usher: &str,
    scenario: &str,
    flag: &dyn Fn(&str) -> Option<String>,
    database: Option<&postgres::ScratchDatabase>,
) -> anyhow::Result<()> {
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        flag(name)
            .map_or(Ok(default), |s| s.parse())
            .with_context(|| format!("{name} takes a number\n{USAGE}"))
    };
    let target = match flag("--target").as_deref() {
        None | Some("sink") => provisioning::Target::Sink,
        Some("scim2-server") => {
            provisioning::Target::Scim2Server(provisioning::scim2_server(flag("--scim2-server")))
        }
        Some(other) => anyhow::bail!("unknown --target {other:?}\n{USAGE}"),
    };
    // scim2-server is Python: it, not usher, bounds the rate, so fewer users.
    let default_users = match (scenario, &target) {
        ("leaver", _) => 200,
        (_, provisioning::Target::Scim2Server(_)) => 1_000,
        _ => 10_000,
    };
    let opts = provisioning::Options {
        usher: usher.to_owned(),
        users: usize::try_from(number("--users", default_users)?)?.max(1),
        app_concurrency: u32::try_from(number("--app-concurrency", 16)?)?.max(1),
        timeout: Duration::from_secs(number("--timeout", 600)?),
    };
    let database = database.map(|d| d.url.as_str());
    match scenario {
        "provision-push" => provisioning::provision_push(&opts, database, target).await,
        _ => {
            let leavers = usize::try_from(number("--leavers", 50)?)?;
            provisioning::leaver(&opts, database, leavers).await
        }
    }
}

/// Starts usher, warms up, measures and prints one scenario.
async fn run(
    usher: &str,
    scenario: &str,
    positional: &[&String],
    flag: &dyn Fn(&str) -> Option<String>,
    seconds: u64,
    database: Option<&postgres::ScratchDatabase>,
) -> anyhow::Result<()> {
    let server = server::Usher::start(usher, database.map(|d| d.url.as_str())).await?;
    let duration = Duration::from_secs(seconds);
    let (name, concurrency, flow) = match scenario {
        "client-credentials" => {
            let alg = positional.get(1).map_or("RS256", |s| s.as_str()).to_owned();
            (
                format!("client_credentials {alg}"),
                32,
                flows::Flow::ClientCredentials(alg),
            )
        }
        "saml-sso" => (
            "SAML SSO response, existing session (RSA-2048 signed)".into(),
            16,
            flows::Flow::SamlSso(flows::signed_in(&server.base).await?),
        ),
        "password-login" => (
            "password login (authorize, login, code, token)".into(),
            8,
            flows::Flow::PasswordLogin,
        ),
        "scim-create" => (
            "SCIM user create on PostgreSQL (uniqueness check, audit record, outbox event)".into(),
            16,
            flows::Flow::ScimCreate(server.scim_token.clone()),
        ),
        other => anyhow::bail!("unknown scenario {other:?}\n{USAGE}"),
    };
    let concurrency = flag("--concurrency")
        .map_or(Ok(concurrency), |s| s.parse())
        .context(USAGE)?;
    // Warm-up: connections, caches, the key cache.
    let warm = flows::drive(&server, &flow, concurrency, Duration::from_secs(2)).await?;
    let ticks = cpu::Ticks::of_this_system()?;
    let cpu_before = ticks.used_by(server.pid())?;
    let started = Instant::now();
    let measured = flows::drive(&server, &flow, concurrency, duration).await?;
    let elapsed = started.elapsed();
    let server_cpu = ticks.used_by(server.pid())?.saturating_sub(cpu_before);
    let pinned = server.pinned;
    server.stop();
    if warm.errors > 0 {
        eprintln!(
            "warm-up: {} iterations failed: {:#?}",
            warm.errors, warm.samples
        );
    }
    let errors = warm.errors + measured.errors;
    report::print(&name, concurrency, elapsed, server_cpu, measured, pinned);
    anyhow::ensure!(errors == 0, "{errors} iterations failed (see above)");
    Ok(())
}
