//! `provision-push`: N users (default 10,000) assigned at once to one SCIM app,
//! without rate limits; measured from usher's restart to the app holding every
//! account. Prints creates per second, usher's CPU per user, its peak RSS and the
//! duplicates the target saw (must be 0).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::peer::Peer;
use super::{App, Assigned, Options, assign_at_once};
use crate::server::Scratch;
use crate::sink::Sink;
use crate::{cpu, memory};

/// After the last create, how long the target is watched for late duplicates
/// (a retried create).
const GRACE: Duration = Duration::from_secs(2);

/// Issue 11's goal: 10,000 users created within 20 s with usher on one core.
const GOAL: (usize, Duration) = (10_000, Duration::from_secs(20));

/// How often scim2-server is asked how many accounts it holds.
const PEER_POLL: Duration = Duration::from_millis(250);

/// Where the accounts go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The bench's in-process sink.
    Sink,
    /// The reference `scim2-server` at this path.
    Scim2Server(PathBuf),
}

/// What usher used in the window.
#[derive(Debug)]
struct Usage {
    cpu: Duration,
    peak_rss_kib: u64,
}

fn usage(assigned: &Assigned) -> anyhow::Result<Usage> {
    let pid = assigned.usher.pid();
    Ok(Usage {
        // The restarted process began with the window: all its CPU time is in it.
        cpu: cpu::Ticks::of_this_system()?.used_by(pid)?,
        peak_rss_kib: memory::peak_rss_kib(pid)?,
    })
}

/// Runs the scenario on `database` (PostgreSQL URL, or SQLite when `None`).
pub async fn provision_push(
    opts: &Options,
    database: Option<&str>,
    target: Target,
) -> anyhow::Result<()> {
    let scratch = Scratch::create(database)?;
    let storage = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let outcome = match target {
        Target::Sink => on_sink(opts, &scratch, storage).await,
        Target::Scim2Server(bin) => on_peer(opts, &scratch, storage, &bin).await,
    };
    scratch.remove();
    outcome
}

async fn on_sink(opts: &Options, scratch: &Scratch, storage: &str) -> anyhow::Result<()> {
    let n = opts.users;
    let sink = Sink::start(1, 1)?;
    let apps = [App {
        name: "sink1".into(),
        base_url: sink.base_url(1),
        token: sink.token().to_owned(),
    }];
    let assigned = assign_at_once(opts, scratch, &apps).await?;
    let all_there = sink.wait_until(opts.timeout, |s| s.created(1) >= n).await;
    let used = usage(&assigned)?;
    // Incomplete: the window is how long the bench waited.
    let end = match sink.last_created(1) {
        Some(last) if all_there => last,
        _ => Instant::now(),
    };
    tokio::time::sleep(GRACE).await;
    let stats = sink.stats(1);
    let pinned = assigned.usher.pinned;
    print(&Figures {
        title: format!(
            "provision-push: {n} users assigned at once to one SCIM app (the bench's sink), {storage}"
        ),
        n,
        created: stats.created,
        window: end.saturating_duration_since(assigned.restarted),
        ready_after: assigned.ready_after,
        used,
        pinned,
        duplicates: stats.duplicates(),
        duplicates_detail: format!(
            "{} creates refused with 409, {} repeated externalIds",
            stats.conflicts, stats.repeated_creates
        ),
        goal: n == GOAL.0,
    });
    let per_user = stats.requests() as f64 / n.max(1) as f64;
    let by_op: Vec<String> = stats
        .counts
        .iter()
        .map(|(op, count)| format!("{} {count}", op.name()))
        .collect();
    println!(
        "  sink requests: {} ({per_user:.1} per user): {}; accounts held: {}",
        stats.requests(),
        by_op.join(", "),
        stats.users
    );
    drop(assigned);
    sink.stop().await;
    anyhow::ensure!(
        all_there,
        "the sink received {} of {n} creates within {} s",
        stats.created,
        opts.timeout.as_secs()
    );
    anyhow::ensure!(stats.duplicates() == 0, "the sink saw duplicate creates");
    Ok(())
}

async fn on_peer(
    opts: &Options,
    scratch: &Scratch,
    storage: &str,
    bin: &PathBuf,
) -> anyhow::Result<()> {
    let n = opts.users;
    let peer = Peer::start(bin)?;
    let apps = [App {
        name: "scim2-server".into(),
        base_url: peer.base.clone(),
        token: peer.token.clone(),
    }];
    let assigned = assign_at_once(opts, scratch, &apps).await?;
    let deadline = assigned.restarted + opts.timeout;
    let mut created = peer.users().await?;
    while created < n && Instant::now() < deadline {
        tokio::time::sleep(PEER_POLL).await;
        created = peer.users().await?;
    }
    let end = Instant::now();
    let used = usage(&assigned)?;
    tokio::time::sleep(GRACE).await;
    let duplicates = peer.duplicates().await?;
    print(&Figures {
        title: format!(
            "provision-push: {n} users assigned at once to scim2-server (Python, the reference server), {storage}"
        ),
        n,
        created,
        window: end.saturating_duration_since(assigned.restarted),
        ready_after: assigned.ready_after,
        used,
        pinned: assigned.usher.pinned,
        duplicates: duplicates as u64,
        duplicates_detail: format!(
            "accounts beyond one per externalId; the end is seen by polling every {} ms",
            PEER_POLL.as_millis()
        ),
        goal: false,
    });
    drop(assigned);
    anyhow::ensure!(
        created >= n,
        "scim2-server holds {created} of {n} accounts after {} s",
        opts.timeout.as_secs()
    );
    anyhow::ensure!(duplicates == 0, "scim2-server holds duplicate accounts");
    Ok(())
}

/// One run's figures.
#[derive(Debug)]
struct Figures {
    title: String,
    n: usize,
    created: usize,
    window: Duration,
    ready_after: Duration,
    used: Usage,
    pinned: bool,
    duplicates: u64,
    duplicates_detail: String,
    /// Whether the goal applies (the sink, at its user count).
    goal: bool,
}

fn print(f: &Figures) {
    let secs = f.window.as_secs_f64();
    let cpu = f.used.cpu.as_secs_f64();
    let cores = if f.pinned {
        "usher on 1 core (taskset)"
    } else {
        "usher not pinned"
    };
    println!("scenario: {}", f.title);
    println!(
        "  window: {secs:.2} s from the restart (ready after {:.2} s) to the last create; {cores}",
        f.ready_after.as_secs_f64()
    );
    let goal = if !f.goal {
        String::new()
    } else if f.created >= f.n && f.window <= GOAL.1 {
        format!(" (goal: within {} s, met)", GOAL.1.as_secs())
    } else {
        format!(" (goal: within {} s, missed)", GOAL.1.as_secs())
    };
    println!(
        "  creates: {} of {} ({:.0}/s){goal}",
        f.created,
        f.n,
        if secs > 0.0 {
            f.created as f64 / secs
        } else {
            0.0
        }
    );
    println!(
        "  usher CPU: {cpu:.2} s in the window ({:.0} % of one core), {:.3} ms per user",
        if secs > 0.0 { 100.0 * cpu / secs } else { 0.0 },
        1000.0 * cpu / f.n.max(1) as f64
    );
    println!(
        "  usher peak RSS: {:.1} MiB (VmHWM of the restarted process)",
        f.used.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "  duplicates seen by the target: {} ({})",
        f.duplicates, f.duplicates_detail
    );
}
