//! Local processes' CPU and memory from `/proc`, for the process target.
//!
//! A service is its process and every process under it ([`read_tree`]), as `docker stats` counts
//! a container's whole cgroup: a service started through a shell, `npm start` or a supervisor
//! does its work in children, and measuring the parent alone would report the launcher's idle
//! CPU. CPU is `utime + stime` of `/proc/PID/stat` (every thread of the process) plus `cutime +
//! cstime` (what it has reaped of its children), summed over the tree: when a child exits, its
//! time moves into its parent's reaped count and the total carries on without a step. Ticks are
//! `sysconf(_SC_CLK_TCK)`, so one reading is 10 ms coarse: good enough for the one-second samples
//! of charts, not for a window's CPU, for which [`Tree`] reads each member's CPU clock (ns) at the
//! window's edges (see [`super::window_cpu`]). Memory is `VmRSS` summed over the tree, what people
//! compare with "MB per service" (pages that forked workers share count once per process, as
//! they do in `ps` sums).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

use super::Sample;

/// Cumulative CPU seconds and resident memory of a process at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// The processes `roots` and every process under them now, as one (each once): CPU with what
/// each has reaped, RSS summed. Fails when a root is gone; a descendant that exits while it is
/// read is left out.
pub fn read_tree(roots: &[u32]) -> anyhow::Result<Reading> {
    let table = ProcessTable::scan()?;
    let mut total_ticks = 0;
    let mut rss_bytes = 0;
    for pid in table.tree(roots)? {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(anyhow::Error::from)
            .and_then(|s| vm_rss_bytes(&s));
        match status {
            Ok(rss) => {
                rss_bytes += rss;
                total_ticks += table.ticks.get(&pid).map_or(0, |t| t.own + t.reaped);
            }
            Err(e) if roots.contains(&pid) => {
                return Err(e.context(format!("reading /proc/{pid}/status")));
            }
            // Gone since the scan, or a zombie (no VmRSS) whose time its parent will reap.
            Err(_) => {}
        }
    }
    Ok(Reading {
        cpu_seconds: total_ticks as f64 / clock_ticks_per_second(),
        rss_bytes,
    })
}

/// The processes of a tree, found in one scan of /proc, whose CPU clocks are read afterwards.
#[derive(Debug)]
pub struct Tree {
    roots: Vec<u32>,
    /// Every live member (each once) and what it had reaped of its children, in ns.
    members: Vec<(u32, u64)>,
}

impl Tree {
    /// The processes `roots` and every process under them now (zombies left out: their parent
    /// will reap their time). Fails when a root is gone.
    pub fn find(roots: &[u32]) -> anyhow::Result<Tree> {
        let table = ProcessTable::scan()?;
        let ns_per_tick = 1e9 / clock_ticks_per_second();
        let members = table
            .tree(roots)?
            .into_iter()
            .filter_map(|pid| {
                let t = table.ticks.get(&pid)?;
                (!t.zombie).then_some((pid, (t.reaped as f64 * ns_per_tick) as u64))
            })
            .collect();
        Ok(Tree {
            roots: roots.to_vec(),
            members,
        })
    }

    /// The tree's CPU time now, ns: each member's CPU clock (every thread, exited ones too) plus
    /// what it had reaped when the tree was found. Fails when a root is gone; a descendant gone
    /// since is left out.
    pub fn cpu_ns(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for &(pid, reaped_ns) in &self.members {
            match process_cpu_ns(pid) {
                Ok(ns) => total += ns + reaped_ns,
                Err(e) if self.roots.contains(&pid) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(total)
    }
}

/// Every process's parent and CPU ticks, from one pass over /proc.
struct ProcessTable {
    children: HashMap<u32, Vec<u32>>,
    ticks: HashMap<u32, Ticks>,
}

/// utime + stime, cutime + cstime, and whether the process is a zombie.
struct Ticks {
    own: u64,
    reaped: u64,
    zombie: bool,
}

impl ProcessTable {
    fn scan() -> anyhow::Result<ProcessTable> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut ticks = HashMap::new();
        for entry in std::fs::read_dir("/proc").context("listing /proc")? {
            let Some(pid) = entry
                .ok()
                .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let (Ok(ppid), Ok(t)) = (stat_field(&stat, 4), stat_ticks(&stat)) {
                children.entry(ppid as u32).or_default().push(pid);
                ticks.insert(pid, t);
            }
        }
        Ok(ProcessTable { children, ticks })
    }

    /// `roots` and every process under them, each once. Fails when a root is not in the table.
    fn tree(&self, roots: &[u32]) -> anyhow::Result<Vec<u32>> {
        for &root in roots {
            if !self.ticks.contains_key(&root) {
                // Read alone for the error that says why; else its stat would not parse.
                read(root)?;
                anyhow::bail!("parsing /proc/{root}/stat: no parent or CPU fields");
            }
        }
        let mut members: Vec<u32> = Vec::new();
        let mut queue: Vec<u32> = roots.to_vec();
        while let Some(pid) = queue.pop() {
            if !members.contains(&pid) {
                members.push(pid);
                queue.extend(self.children.get(&pid).into_iter().flatten());
            }
        }
        Ok(members)
    }
}

/// A process's CPU time now, ns: its CPU clock (`clock_getcpuclockid`), the kernel's run time of
/// every thread of the process, those that have exited included. Linux lets any user read any
/// process's clock.
pub fn process_cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let pid_t =
        libc::pid_t::try_from(pid).with_context(|| format!("no process {pid}: out of range"))?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: writes one clockid_t to a valid pointer.
    let rc = unsafe { libc::clock_getcpuclockid(pid_t, &mut clock) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc))
            .with_context(|| format!("the CPU clock of process {pid} (is it running?)"));
    }
    clock_ns(clock).with_context(|| format!("reading the CPU clock of process {pid}"))
}

/// This process's CPU time now, ns (every thread; children not included).
pub fn own_cpu_ns() -> anyhow::Result<u64> {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID).context("reading tracebench's own CPU clock")
}

/// A clock's time now, ns (e.g. `CLOCK_THREAD_CPUTIME_ID`: the calling thread's CPU time).
pub fn clock_ns(clock: libc::clockid_t) -> std::io::Result<u64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec to a valid pointer.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
}

/// Reads one process's `/proc/PID/stat` and `/proc/PID/status` (its children left out). Fails
/// when the process is gone.
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

/// utime + stime (fields 14 and 15), cutime + cstime (16 and 17: what it reaped) and the state.
fn stat_ticks(stat: &str) -> anyhow::Result<Ticks> {
    Ok(Ticks {
        own: cpu_ticks(stat)?,
        reaped: stat_field(stat, 16)? + stat_field(stat, 17)?,
        zombie: matches!(state(stat), Some("Z" | "X")),
    })
}

/// Field 3, the state (`R`, `S`, `Z` for a zombie, ...).
fn state(stat: &str) -> Option<&str> {
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
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
    if matches!(state(&stat), Some("Z" | "X")) {
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
    fn a_process_clock_reads_what_the_process_reads_of_itself() {
        let before = own_cpu_ns().unwrap();
        let clock = process_cpu_ns(std::process::id()).unwrap();
        let tree = Tree::find(&[std::process::id()]).unwrap().cpu_ns().unwrap();
        let after = own_cpu_ns().unwrap();
        // The tree adds what the test process reaped of its children, if anything.
        assert!(before <= clock && clock <= after && clock <= tree);
        let err = process_cpu_ns(u32::MAX - 1).unwrap_err();
        assert!(format!("{err:#}").contains(&(u32::MAX - 1).to_string()));
    }

    #[test]
    fn a_missing_process_is_an_error_naming_it() {
        for err in [
            read(u32::MAX - 1).unwrap_err(),
            read_tree(&[std::process::id(), u32::MAX - 1]).unwrap_err(),
        ] {
            assert!(format!("{err:#}").contains(&format!("{}", u32::MAX - 1)));
        }
    }

    #[test]
    fn the_reaped_time_counts_too() {
        let stat = "42 (x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 1 2 3";
        let t = stat_ticks(stat).unwrap();
        assert_eq!((t.own, t.reaped, t.zombie), (300, 10, false));
        assert!(stat_ticks(&stat.replace(" S ", " Z ")).unwrap().zombie);
    }

    /// A shell whose child burns CPU: the tree holds the burn, the shell alone does not. Then the
    /// child exits and is reaped: its time stays in the tree's total.
    #[test]
    fn a_tree_counts_its_children_alive_and_reaped() {
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "timeout 1 sh -c 'while :; do :; done'; exec sleep 30"])
            .spawn()
            .unwrap();
        let pid = shell.id();
        let clocks = |roots: &[u32]| Tree::find(roots).unwrap().cpu_ns().unwrap();
        let (start, start_ns) = (read_tree(&[pid]).unwrap(), clocks(&[pid]));
        std::thread::sleep(std::time::Duration::from_millis(600));
        let (burning, burning_ns) = (read_tree(&[pid]).unwrap(), clocks(&[pid]));
        // Listed twice, or with a process under it, the tree still counts each process once.
        let twice = read_tree(&[pid, pid]).unwrap();
        let twice_ns = clocks(&[pid, pid]);
        std::thread::sleep(std::time::Duration::from_millis(900));
        let (reaped, reaped_ns) = (read_tree(&[pid]).unwrap(), clocks(&[pid]));
        let alone = read(pid).unwrap();
        let alone_ns = process_cpu_ns(pid).unwrap();
        shell.kill().unwrap();
        shell.wait().unwrap();
        // The burn gets a good share of a core even on a busy 2-core machine; the shell itself
        // only waits.
        assert!(
            burning.cpu_seconds - start.cpu_seconds >= 0.05,
            "{start:?} -> {burning:?}"
        );
        assert!(alone.cpu_seconds < 0.05, "{alone:?}");
        assert!(
            reaped.cpu_seconds >= burning.cpu_seconds,
            "{burning:?} -> {reaped:?}"
        );
        assert!(
            burning.rss_bytes > alone.rss_bytes,
            "{burning:?} vs {alone:?}"
        );
        assert!(
            twice.rss_bytes < burning.rss_bytes * 3 / 2,
            "{twice:?} vs {burning:?}"
        );
        // The clocks the same: the burn in the tree, not in the shell; once counted when listed
        // twice; kept once reaped, less what the kernel's reaped count rounds down to its 10 ms
        // ticks (the burn and the `timeout` wrapping it).
        assert!(
            burning_ns - start_ns >= 50_000_000,
            "{start_ns} -> {burning_ns}"
        );
        assert!(alone_ns < 50_000_000, "{alone_ns}");
        assert!(
            twice_ns < burning_ns + (burning_ns - start_ns),
            "{twice_ns}"
        );
        assert!(
            reaped_ns + 20_000_000 >= burning_ns,
            "{burning_ns} -> {reaped_ns}"
        );
    }
}
