//! Facts about the machine a run measures on, recorded with every run so that runs compared
//! later can be told apart when the machine was not the same: the CPU model, the kernel, the CPU
//! and memory limits of tracebench's own cgroup (a CI runner's container), the CPU time the
//! hypervisor stole from this VM during each cell (`/proc/stat`), and a digest of each program a
//! process target starts (two builds of a service differ there).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The CPU model, from the first `model name` of `/proc/cpuinfo`.
pub fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    model_name(&text)
}

fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// The kernel release (`uname -r`).
pub fn kernel() -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    Some(text.trim().to_string()).filter(|k| !k.is_empty())
}

/// The CPU limit of tracebench's own cgroup in cores, and its memory limit in bytes; `None` for
/// no limit (or no cgroup to read).
pub fn cgroup_limits() -> (Option<f64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return (None, None);
    };
    limits(&text, Path::new("/sys/fs/cgroup"))
}

fn limits(proc_cgroup: &str, root: &Path) -> (Option<f64>, Option<u64>) {
    let read = |path: PathBuf| std::fs::read_to_string(path).ok();
    let mut cpu = None;
    let mut memory = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            // cgroup v2: cpu.max is "QUOTA PERIOD" or "max PERIOD"; memory.max a number or "max".
            let dir = root.join(path);
            cpu = cpu.or_else(|| read(dir.join("cpu.max")).and_then(|t| cpu_max(&t)));
            memory = memory.or_else(|| read(dir.join("memory.max")).and_then(|t| bytes(&t)));
        }
        let v1 = |controller: &str| controllers.split(',').any(|c| c == controller);
        if v1("cpu") {
            let dir = root.join(controllers).join(path);
            let quota = read(dir.join("cpu.cfs_quota_us")).and_then(|t| t.trim().parse().ok());
            let period = read(dir.join("cpu.cfs_period_us")).and_then(|t| t.trim().parse().ok());
            if let (Some(q), Some(p)) = (quota, period) {
                cpu = cpu.or_else(|| cores(q, p));
            }
        }
        if v1("memory") {
            let dir = root.join(controllers).join(path);
            memory =
                memory.or_else(|| read(dir.join("memory.limit_in_bytes")).and_then(|t| bytes(&t)));
        }
    }
    (cpu, memory)
}

fn cpu_max(text: &str) -> Option<f64> {
    let (quota, period) = text.trim().split_once(' ')?;
    cores(quota.parse().ok()?, period.parse().ok()?)
}

/// A CFS quota over its period, in cores; a negative quota (v1's -1) is no limit.
fn cores(quota: i64, period: i64) -> Option<f64> {
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// A memory limit; "max", or v1's "no limit" (a page-rounded i64::MAX), is none.
fn bytes(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    (n < 1 << 60).then_some(n)
}

/// The all-CPU line of `/proc/stat`: ticks stolen by the hypervisor, and all ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    steal: u64,
    total: u64,
}

impl CpuTicks {
    pub fn now() -> Option<CpuTicks> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        CpuTicks::parse(&text)
    }

    fn parse(stat: &str) -> Option<CpuTicks> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // already inside user and nice.
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|t| t.parse().ok())
            .collect();
        (ticks.len() == 8).then(|| CpuTicks {
            steal: ticks[7],
            total: ticks.iter().sum(),
        })
    }

    /// The share of all CPU time stolen since `earlier`, %.
    pub fn steal_pct_since(self, earlier: CpuTicks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        (total > 0).then(|| steal as f64 / total as f64 * 100.0)
    }
}

/// The program a command runs: a path as given, a bare name from PATH.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf()).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A file's digest (FNV-1a, 64 bits, hex): enough to tell two builds of a program apart, not a
/// security check.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("fnv1a64:{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_model_and_the_steal() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n";
        assert_eq!(model_name(info).as_deref(), Some("AMD EPYC 7B13"));
        let before = CpuTicks::parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n").unwrap();
        let after = CpuTicks::parse("cpu  150 0 70 910 10 0 0 60 0 0\n").unwrap();
        // 20 of 200 ticks stolen.
        assert_eq!(after.steal_pct_since(before), Some(10.0));
        assert_eq!(before.steal_pct_since(after), None);
        assert!(CpuTicks::parse("cpu 1 2 3\n").is_none());
    }

    #[test]
    fn reads_cgroup_limits_v2_and_v1() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("ci/job/cpu.max", "150000 100000\n");
        write("ci/job/memory.max", "max\n");
        assert_eq!(limits("0::/ci/job\n", dir.path()), (Some(1.5), None));
        write("cpu,cpuacct/runner/cpu.cfs_quota_us", "-1\n");
        write("cpu,cpuacct/runner/cpu.cfs_period_us", "100000\n");
        write("memory/runner/memory.limit_in_bytes", "4294967296\n");
        let v1 = "4:memory:/runner\n2:cpu,cpuacct:/runner\n0::/\n";
        assert_eq!(limits(v1, dir.path()), (None, Some(4_294_967_296)));
        write("memory/big/memory.limit_in_bytes", "9223372036854771712\n");
        assert_eq!(limits("4:memory:/big\n", dir.path()), (None, None));
    }

    #[test]
    fn digests_tell_two_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"build one").unwrap();
        std::fs::write(&b, b"build two").unwrap();
        assert_ne!(file_digest(&a).unwrap(), file_digest(&b).unwrap());
        assert_eq!(file_digest(&a).unwrap(), file_digest(&a).unwrap());
        assert!(find_program(Path::new("sh")).is_some());
        assert!(find_program(&a).is_some());
        assert!(find_program(Path::new("no-such-program-here")).is_none());
    }
}
