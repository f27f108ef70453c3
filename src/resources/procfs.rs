//! Local processes' CPU and memory from `/proc`, for the process target.
//!
//! CPU is `utime + stime` of `/proc/PID/stat`, which already sums every thread of the process
//! (children are not counted: the demo services do not fork). Ticks are `sysconf(_SC_CLK_TCK)`, so
//! one reading is 10 ms coarse; a window's CPU is computed from cumulative seconds, which stays exact.
//! Memory is `VmRSS`, what people compare with "MB per service".

use std::path::PathBuf;

use anyhow::Context;

use super::Sample;

/// Cumulative CPU seconds and resident memory of a process at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`. Fails when the process is gone.
pub fn read(pid: u32) -> anyhow::Result<Reading> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let stat = std::fs::read_to_string(base.join("stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (is process {pid} running?)"))?;
    let status = std::fs::read_to_string(base.join("status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let ticks = cpu_ticks(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))?;
    let rss_bytes = vm_rss_bytes(&status).with_context(|| format!("parsing /proc/{pid}/status"))?;
    Ok(Reading {
        cpu_seconds: ticks as f64 / clock_ticks_per_second(),
        rss_bytes,
    })
}

/// A sample from two consecutive readings (`previous` is `None` for the first: no CPU %).
pub fn sample(now: Reading, previous: Option<(Reading, i64)>, unix_ms: i64) -> Sample {
    let cpu_pct = previous.and_then(|(before, t_before)| {
        let wall_seconds = (unix_ms - t_before) as f64 / 1000.0;
        (wall_seconds > 0.0).then(|| (now.cpu_seconds - before.cpu_seconds) / wall_seconds * 100.0)
    });
    Sample {
        unix_ms,
        cpu_pct,
        mem_bytes: Some(now.rss_bytes),
        cpu_seconds: Some(now.cpu_seconds),
    }
}

/// utime + stime (fields 14 and 15).
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    Ok(stat_field(stat, 14)? + stat_field(stat, 15)?)
}

/// Field `n` (numbered from 1 as in proc(5)) of `/proc/PID/stat`, from field 3 on. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its closing
/// parenthesis.
fn stat_field(stat: &str, n: usize) -> anyhow::Result<u64> {
    let after_name = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("no ')' after the command name")?;
    after_name
        .split_whitespace()
        .nth(n - 3)
        .context("too few fields")?
        .parse()
        .with_context(|| format!("field {n} is not a number"))
}

/// A process's group and start time (clock ticks since boot: with the PID, they tell a process
/// from a later one that reuses its ID). `None` when it is gone (or dead, a zombie).
pub fn group_and_start(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return None;
    }
    Some((
        u32::try_from(stat_field(&stat, 5).ok()?).ok()?,
        stat_field(&stat, 22).ok()?,
    ))
}

/// `VmRSS:   1234 kB` in bytes.
fn vm_rss_bytes(status: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line (a zombie or kernel thread?)")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS has no value")?
        .parse()
        .context("VmRSS is not a number")?;
    Ok(kib * 1024)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 on error, handled below.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parentheses() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1 2 3";
        assert_eq!(cpu_ticks(stat).unwrap(), 300);
        assert!(cpu_ticks("42 (x) S 1").is_err());
        assert_eq!(stat_field(stat, 5).unwrap(), 42, "process group");
        assert_eq!(stat_field(stat, 22).unwrap(), 1, "start time");
    }

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t    1536 kB\nThreads: 3\n";
        assert_eq!(vm_rss_bytes(status).unwrap(), 1536 * 1024);
        assert!(vm_rss_bytes("Name:\tkthread\n").is_err());
    }

    #[test]
    fn own_process_is_readable_and_cpu_grows() {
        let first = read(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let second = read(std::process::id()).unwrap();
        assert!(second.cpu_seconds >= first.cpu_seconds);
        assert!(first.rss_bytes > 0);
        let s = sample(second, Some((first, 0)), 1000);
        assert_eq!(
            s.cpu_pct,
            Some((second.cpu_seconds - first.cpu_seconds) * 100.0)
        );
    }

    #[test]
    fn a_missing_process_is_an_error_naming_it() {
        let err = read(u32::MAX - 1).unwrap_err();
        assert!(format!("{err:#}").contains(&format!("{}", u32::MAX - 1)));
    }
}
