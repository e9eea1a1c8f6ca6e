//! Figures: throughput (overall and per server core), the server's CPU time and
//! requests per CPU-second, median and p99 latency.

use std::time::Duration;

use crate::flows::Run;

/// Prints one scenario's figures (throughput counts successful iterations only)
/// and its failures. `server_cpu` is what the server used during `elapsed`.
pub fn print(
    name: &str,
    concurrency: usize,
    elapsed: Duration,
    server_cpu: Duration,
    run: Run,
    pinned: bool,
) {
    let mut latencies = run.latencies;
    latencies.sort_unstable();
    let n = latencies.len();
    let at = |q: f64| quantile(&latencies, q);
    let throughput = n as f64 / elapsed.as_secs_f64();
    let cores = if pinned {
        "1 server core (taskset)"
    } else {
        "server not pinned"
    };
    println!("scenario: {name}");
    println!(
        "  requests: {n} in {:.1} s, concurrency {concurrency}, {cores}",
        elapsed.as_secs_f64()
    );
    println!("  throughput: {throughput:.0}/s ({throughput:.0}/s per server core)");
    let cpu = server_cpu.as_secs_f64();
    let per_cpu_second = if cpu > 0.0 { n as f64 / cpu } else { 0.0 };
    println!(
        "  server CPU: {cpu:.2} s in {:.1} s ({:.0} % of one core), {per_cpu_second:.0} requests per CPU-second",
        elapsed.as_secs_f64(),
        100.0 * cpu / elapsed.as_secs_f64()
    );
    println!(
        "  latency: median {:.2} ms, p99 {:.2} ms",
        ms(at(0.5)),
        ms(at(0.99))
    );
    if run.errors > 0 {
        println!("  errors: {} failed iterations, for example:", run.errors);
        for message in &run.samples {
            println!("    {message}");
        }
    }
}

/// The `q` quantile (0 to 1) of `sorted` durations, nearest rank below; zero
/// when there are none.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let n = sorted.len();
    sorted
        .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
