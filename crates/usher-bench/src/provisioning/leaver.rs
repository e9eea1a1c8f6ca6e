//! `leaver`: three SCIM apps (three tenants of the sink), N users (default 200)
//! assigned to all three; then M of them (default 50) deactivated through usher's
//! inbound SCIM, **one at a time**, each as Entra ID sends it. For each, the
//! latency runs from the moment usher answered the PATCH 2xx to the moment the
//! last of the three apps received that user's deactivation (or deletion).

use std::time::{Duration, Instant};

use super::{App, Options, assign_at_once, directory};
use crate::cpu;
use crate::report::quantile;
use crate::server::Scratch;
use crate::sink::Sink;

/// Apps every user is assigned to.
const APPS: usize = 3;

/// Issue 11's goal for the p95 from the deactivation to the last app.
const GOAL_P95: Duration = Duration::from_secs(5);

/// How long one deactivation may take to reach every app.
const PER_LEAVER: Duration = Duration::from_secs(60);

/// Runs the scenario, deactivating `leavers` users.
pub async fn leaver(opts: &Options, database: Option<&str>, leavers: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        leavers <= opts.users,
        "--leavers {leavers} is more than --users {}",
        opts.users
    );
    let scratch = Scratch::create(database)?;
    let storage = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let outcome = run(opts, &scratch, storage, leavers).await;
    scratch.remove();
    outcome
}

async fn run(
    opts: &Options,
    scratch: &Scratch,
    storage: &str,
    leavers: usize,
) -> anyhow::Result<()> {
    let n = opts.users;
    let sink = Sink::start(APPS, 1)?;
    let apps: Vec<App> = (1..=APPS)
        .map(|t| App {
            name: format!("sink{t}"),
            base_url: sink.base_url(t),
            token: sink.token().to_owned(),
        })
        .collect();
    let assigned = assign_at_once(opts, scratch, &apps).await?;
    let pushed = sink
        .wait_until(opts.timeout, |s| (1..=APPS).all(|t| s.created(t) >= n))
        .await;
    anyhow::ensure!(
        pushed,
        "the initial push did not complete within {} s: {:?} of {n} accounts",
        opts.timeout.as_secs(),
        (1..=APPS).map(|t| sink.created(t)).collect::<Vec<_>>()
    );
    // The sink keys arrivals by externalId, which the SCIM connector sets to
    // usher's user id (docs/connectors/scim.md, "What it sends").
    let first = &assigned.ids[0];
    anyhow::ensure!(
        (1..=APPS).all(|t| sink.arrivals(t, first).is_some()),
        "the apps' accounts do not carry usher's user id as externalId"
    );
    eprintln!(
        "initial push: {n} users in {APPS} apps after {:.1} s",
        assigned.restarted.elapsed().as_secs_f64()
    );

    let ticks = cpu::Ticks::of_this_system()?;
    let pid = assigned.usher.pid();
    let requests_before: u64 = (1..=APPS).map(|t| sink.stats(t).requests()).sum();
    let cpu_before = ticks.used_by(pid)?;
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(leavers);
    for id in assigned.ids.iter().take(leavers) {
        directory::deactivate(&client, &assigned.usher, id).await?;
        let answered = Instant::now();
        let gone_from = |s: &Sink, t: usize| {
            s.arrivals(t, id)
                .and_then(|a| a.deactivated.or(a.deleted))
                .filter(|at| *at >= started)
        };
        let everywhere = sink
            .wait_until(PER_LEAVER, |s| {
                (1..=APPS).all(|t| gone_from(s, t).is_some())
            })
            .await;
        anyhow::ensure!(
            everywhere,
            "user {id}'s deactivation did not reach all {APPS} apps within {} s",
            PER_LEAVER.as_secs()
        );
        let last = (1..=APPS)
            .filter_map(|t| gone_from(&sink, t))
            .max()
            .unwrap_or(answered);
        // An app may hear of it before usher's answer reached the bench: zero.
        latencies.push(last.saturating_duration_since(answered));
    }
    let elapsed = started.elapsed();
    let cpu = ticks.used_by(pid)?.saturating_sub(cpu_before);
    let requests: u64 = (1..=APPS).map(|t| sink.stats(t).requests()).sum::<u64>() - requests_before;
    let pinned = assigned.usher.pinned;
    drop(assigned);
    sink.stop().await;

    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "scenario: leaver: {leavers} of {n} users deactivated one at a time by SCIM PATCH \
         (Entra ID-shaped), each in {APPS} SCIM apps (the bench's sink), {storage}"
    );
    println!(
        "  {leavers} leavers in {:.2} s; {}",
        elapsed.as_secs_f64(),
        if pinned {
            "usher on 1 core (taskset)"
        } else {
            "usher not pinned"
        }
    );
    let p95 = quantile(&latencies, 0.95);
    println!(
        "  PATCH answered -> last of {APPS} apps deactivated: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (goal: p95 <= {} s, {})",
        ms(quantile(&latencies, 0.5)),
        ms(p95),
        latencies.last().copied().map_or(0.0, ms),
        GOAL_P95.as_secs(),
        if p95 <= GOAL_P95 { "met" } else { "missed" },
    );
    println!(
        "  usher CPU: {:.3} s for the leavers ({:.2} ms per leaver: the inbound PATCH, the plan, {APPS} pushes)",
        cpu.as_secs_f64(),
        1000.0 * cpu.as_secs_f64() / leavers.max(1) as f64
    );
    println!(
        "  sink requests: {requests} ({:.1} per leaver per app)",
        requests as f64 / (leavers.max(1) * APPS) as f64
    );
    Ok(())
}
