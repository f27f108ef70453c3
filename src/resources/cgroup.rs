//! A container's cumulative CPU time from its cgroup, the counter `docker stats` itself reads:
//! cgroup v2 `cpu.stat` `usage_usec`, or on cgroup v1 `cpuacct.usage` (ns). The cgroup is found
//! from a process inside the container (`/proc/PID/cgroup`) and must name the container's ID, so
//! a process that sits in the root cgroup or its daemon's (a hybrid v1/v2 host puts containers
//! in v1 only) is never taken for the container.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::results::CpuCounter;

/// Where the cgroup file is mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One cgroup's CPU counter file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupCpu {
    pub file: PathBuf,
    /// [`CpuCounter::CgroupV2`] or [`CpuCounter::CgroupV1`].
    pub counter: CpuCounter,
}

impl CgroupCpu {
    /// The cgroup of process `pid`, which must name `id` (a container's ID), with its counter
    /// read once to check it can be.
    pub fn of_process(pid: u32, id: &str) -> anyhow::Result<CgroupCpu> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
        let cgroup = locate(&text, Path::new(CGROUP_ROOT), id).with_context(|| {
            format!("no cgroup v2 cpu.stat nor v1 cpuacct.usage of {id} in /proc/{pid}/cgroup")
        })?;
        cgroup.cpu_ns()?;
        Ok(cgroup)
    }

    /// The cgroup's CPU time now, ns (v2 counts whole microseconds).
    pub fn cpu_ns(&self) -> anyhow::Result<u64> {
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        match self.counter {
            CpuCounter::CgroupV2 => usage_usec(&text).map(|us| us * 1000),
            _ => text.trim().parse().context("not a number"),
        }
        .with_context(|| format!("parsing {}", self.file.display()))
    }
}

/// The counter file for the cgroup that `/proc/PID/cgroup` (`text`) names, under `root`, when
/// its path names `id` and the file exists: v2 (`0::/path`, with `root` a v2 mount) first, then
/// v1's cpuacct controller (`N:cpu,cpuacct:/path`).
fn locate(text: &str, root: &Path, id: &str) -> Option<CgroupCpu> {
    let lines = text.lines().filter_map(|line| {
        let (_, rest) = line.split_once(':')?;
        let (controllers, path) = rest.split_once(':')?;
        (!id.is_empty() && path.contains(id)).then_some((controllers, path.trim_start_matches('/')))
    });
    let candidates = lines.flat_map(|(controllers, path)| {
        if controllers.is_empty() {
            let v2 = root.join("cgroup.controllers").exists();
            v2.then(|| (root.join(path).join("cpu.stat"), CpuCounter::CgroupV2))
                .into_iter()
                .collect::<Vec<_>>()
        } else if controllers.split(',').any(|c| c == "cpuacct") {
            [controllers, "cpuacct", "cpu,cpuacct"]
                .iter()
                .map(|dir| {
                    let file = root.join(dir).join(path).join("cpuacct.usage");
                    (file, CpuCounter::CgroupV1)
                })
                .collect()
        } else {
            Vec::new()
        }
    });
    let mut found: Vec<_> = candidates.filter(|(file, _)| file.is_file()).collect();
    found.sort_by_key(|(_, counter)| *counter != CpuCounter::CgroupV2);
    found
        .into_iter()
        .next()
        .map(|(file, counter)| CgroupCpu { file, counter })
}

/// `usage_usec` of a cgroup v2 `cpu.stat`.
fn usage_usec(cpu_stat: &str) -> anyhow::Result<u64> {
    cpu_stat
        .lines()
        .find_map(|line| line.strip_prefix("usage_usec "))
        .context("no usage_usec line")?
        .trim()
        .parse()
        .context("usage_usec is not a number")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c0ffee";

    fn touch(root: &Path, relative: &str, content: &str) -> PathBuf {
        let file = root.join(relative);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        file
    }

    #[test]
    fn reads_usage_usec() {
        let stat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
        assert_eq!(usage_usec(stat).unwrap(), 123_456);
        assert!(usage_usec("user_usec 1\n").is_err());
    }

    #[test]
    fn finds_a_v2_cgroup_naming_the_container() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "cgroup.controllers", "cpu memory\n");
        let scope = format!("system.slice/docker-{ID}.scope/cpu.stat");
        let file = touch(dir.path(), &scope, "usage_usec 1500\n");
        let text = format!("0::/system.slice/docker-{ID}.scope\n");
        let found = locate(&text, dir.path(), ID).unwrap();
        assert_eq!(found.counter, CpuCounter::CgroupV2);
        assert_eq!(found.file, file);
        assert_eq!(found.cpu_ns().unwrap(), 1_500_000);
        // The daemon's or the root cgroup is not the container's.
        assert_eq!(locate("0::/\n", dir.path(), ID), None);
        assert_eq!(locate(&text, dir.path(), "other"), None);
        assert_eq!(locate(&text, dir.path(), ""), None);
    }

    #[test]
    fn finds_v1_cpuacct_when_v2_is_not_the_containers() {
        let dir = tempfile::tempdir().unwrap();
        let file = touch(
            dir.path(),
            &format!("cpu,cpuacct/docker/{ID}/cpuacct.usage"),
            "987654321\n",
        );
        // A hybrid host: the unified line holds the daemon's cgroup, not the container's.
        let text = format!("4:memory:/docker/{ID}\n2:cpu,cpuacct:/docker/{ID}\n0::/\n");
        let found = locate(&text, dir.path(), ID).unwrap();
        assert_eq!(found.counter, CpuCounter::CgroupV1);
        assert_eq!(found.file, file);
        assert_eq!(found.cpu_ns().unwrap(), 987_654_321);
        // cpuacct mounted on its own.
        let dir = tempfile::tempdir().unwrap();
        touch(
            dir.path(),
            &format!("cpuacct/docker/{ID}/cpuacct.usage"),
            "5",
        );
        let text = format!("2:cpuacct:/docker/{ID}\n1:cpu:/docker/{ID}\n");
        assert_eq!(locate(&text, dir.path(), ID).unwrap().cpu_ns().unwrap(), 5);
    }

    #[test]
    fn a_missing_counter_file_is_no_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("0::/system.slice/docker-{ID}.scope\n2:cpuacct:/docker/{ID}\n");
        assert_eq!(locate(&text, dir.path(), ID), None);
    }
}
