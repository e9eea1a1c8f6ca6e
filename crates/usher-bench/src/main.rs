//! usher's benchmark scenarios. Each starts the real `usher` binary (pinned to CPU 0
//! with `taskset` when available, one worker), waits until it is ready, drives load
//! from this process (run it pinned to CPU 1), and prints throughput, median and p99.
//!
//! ```text
//! usher-bench --usher target/release/usher client-credentials RS256
//! usher-bench --usher target/release/usher password-login
//! usher-bench --usher target/release/usher saml-sso
//! ```
//! `scripts/bench/sso.sh` builds both in release mode and runs every scenario.

mod flows;
mod report;
mod server;

use std::time::{Duration, Instant};

use anyhow::Context;

const USAGE: &str = "usage: usher-bench --usher PATH (client-credentials RS256|ES256|EdDSA | password-login | saml-sso) [--seconds N] [--concurrency N]";

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
            let is_flag_value = *i > 0 && args[i - 1].starts_with("--");
            !(a.starts_with("--") || is_flag_value)
        })
        .map(|(_, a)| a)
        .collect();
    let scenario = positional.first().map(|s| s.as_str()).context(USAGE)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = server::Usher::start(&usher).await?;
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
            other => anyhow::bail!("unknown scenario {other:?}\n{USAGE}"),
        };
        let concurrency = flag("--concurrency")
            .map_or(Ok(concurrency), |s| s.parse())
            .context(USAGE)?;
        // Warm-up: connections, caches, the key cache.
        flows::drive(&server, &flow, concurrency, Duration::from_secs(2)).await?;
        let started = Instant::now();
        let latencies = flows::drive(&server, &flow, concurrency, duration).await?;
        report::print(
            &name,
            concurrency,
            started.elapsed(),
            latencies,
            server.pinned,
        );
        server.stop();
        Ok(())
    })
}
