//! The server's measured CPU time, from `/proc/<pid>/stat` (`utime` + `stime`,
//! every thread of the process, in clock ticks; proc(5)). Per-core throughput
//! assumes the pinned core was the server's and only the server's; CPU seconds
//! say what the server actually used, which matters on a shared machine.

use std::time::Duration;

use anyhow::Context;

/// Converts `/proc` clock ticks into time.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    per_second: u64,
}

impl Ticks {
    /// The kernel's `USER_HZ`, from `getconf CLK_TCK` (sysconf without `unsafe`).
    pub fn of_this_system() -> anyhow::Result<Self> {
        let out = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .context("cannot run getconf CLK_TCK")?;
        let per_second: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("getconf CLK_TCK did not print a number")?;
        anyhow::ensure!(per_second > 0, "getconf CLK_TCK printed 0");
        Ok(Self { per_second })
    }

    /// User plus system CPU time used so far by process `pid`.
    pub fn used_by(self, pid: u32) -> anyhow::Result<Duration> {
        let path = format!("/proc/{pid}/stat");
        let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let ticks = busy_ticks(&stat).with_context(|| format!("cannot parse {path}"))?;
        Ok(Duration::from_secs_f64(
            ticks as f64 / self.per_second as f64,
        ))
    }
}

/// `utime` + `stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command
/// name (field 2) is in parentheses and may contain spaces, so fields are counted
/// after its last `)`.
fn busy_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name: field 3 (state) is the first, so utime is the 12th.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_a_name_with_spaces() {
        let stat = "4242 (usher (x) y) S 1 4242 4242 0 -1 4194304 900 0 0 0 \
                    170 30 0 0 20 0 3 0 12345 100000 500 ...";
        assert_eq!(busy_ticks(stat), Some(200));
        assert_eq!(busy_ticks("1 (short) S 1"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let ticks = Ticks::of_this_system().expect("getconf");
        ticks.used_by(std::process::id()).expect("own stat");
    }
}
