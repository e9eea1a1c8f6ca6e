//! The server's peak resident memory: `VmHWM` of `/proc/<pid>/status` (proc(5)),
//! the high-water mark of its resident set since it started.

use anyhow::Context;

/// `VmHWM` of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    high_water_mark(&status).with_context(|| format!("no VmHWM in {path}"))
}

fn high_water_mark(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_in_kib() {
        let status = "Name:\tusher\nVmPeak:\t  900 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 18000 kB\n";
        assert_eq!(high_water_mark(status), Some(20480));
        assert_eq!(high_water_mark("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        assert!(peak_rss_kib(std::process::id()).expect("own status") > 0);
    }
}
