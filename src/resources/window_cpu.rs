//! A service's CPU over a measured window, from its cumulative CPU counter read right at the
//! window's start and right at its end: (end - start) / the time between the two readings.
//!
//! The one-second samples cannot give it: they cut the window at the first and last sample
//! inside it (2 s of a 3 s cell), and /proc's utime/stime come in 10 ms ticks, 0.33 pp of a core
//! over 3 s against a 1 pp budget. So each service's counter is read at the edges, in the finest
//! unit Linux gives, and each reading is stamped on the monotonic clock around the read itself:
//! - A process service: [`procfs::Tree`], the CPU clock of each process of its tree
//!   (`clock_getcpuclockid`: the kernel's run time in ns of every thread of the process, those
//!   that exited included, which a sum of `/proc/PID/task/*/schedstat` misses; readable for any
//!   process, as root or not), plus what each had reaped of its children (cutime + cstime, 10 ms
//!   ticks, but only moving when a child exits). A process that spins for exactly 3.0% of a core
//!   against its own thread clock reads 3.0 ± 0.01 pp over 3.5 s (`tests/resources_samplers.rs`).
//! - A container: its cgroup's counter ([`cgroup`]), what the daemon's own stats read; when that
//!   cannot be read, the daemon's stats (`total_usage`, one document each edge), named in the
//!   results as [`CpuCounter::DockerStats`].

use std::time::Instant;

use anyhow::Context;
use bollard::Docker;

use super::cgroup::CgroupCpu;
use super::{Source, docker_stats, procfs};
use crate::results::CpuCounter;

/// One reading of a service's cumulative CPU counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuReading {
    pub counter: CpuCounter,
    /// CPU time so far, ns.
    pub cpu_ns: u64,
    /// When it was read (the middle of the read).
    pub at: Instant,
}

/// A service's CPU between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowCpu {
    pub counter: CpuCounter,
    /// CPU seconds used.
    pub seconds: f64,
    /// `seconds` over the time between the readings, % of one core.
    pub pct: f64,
}

impl WindowCpu {
    /// `None` when the readings come from different counters, no time passed between them, or
    /// the counter went back (a container or process replaced in between).
    pub fn between(start: &CpuReading, end: &CpuReading) -> Option<WindowCpu> {
        let elapsed = end.at.checked_duration_since(start.at)?.as_secs_f64();
        let used = end.cpu_ns.checked_sub(start.cpu_ns)?;
        (start.counter == end.counter && elapsed > 0.0).then(|| {
            let seconds = used as f64 / 1e9;
            WindowCpu {
                counter: start.counter,
                seconds,
                pct: seconds / elapsed * 100.0,
            }
        })
    }
}

/// Each source's counter, found once (a restart changes a container's cgroup and a process
/// tree's members) and read at both edges of a window.
pub struct EdgeReader {
    counters: Vec<Counter>,
}

enum Counter {
    Process(Vec<u32>),
    Cgroup(CgroupCpu),
    Daemon { docker: Docker, container: String },
}

impl EdgeReader {
    /// Finds each source's counter: a process tree's clocks, or a container's cgroup (found
    /// through its main process), else its daemon's stats. `docker` is needed only for
    /// containers.
    pub async fn resolve(sources: &[Source], docker: Option<&Docker>) -> anyhow::Result<Self> {
        let mut counters = Vec::with_capacity(sources.len());
        for source in sources {
            counters.push(match source {
                Source::Process { pids, .. } => Counter::Process(pids.clone()),
                Source::Container { container, .. } => {
                    let docker =
                        docker.context("reading a container's CPU needs a Docker connection")?;
                    match container_cgroup(docker, container).await {
                        Ok(cgroup) => Counter::Cgroup(cgroup),
                        Err(_) => Counter::Daemon {
                            docker: docker.clone(),
                            container: container.clone(),
                        },
                    }
                }
            });
        }
        Ok(EdgeReader { counters })
    }

    /// Every counter now, in the order of the sources. Fails naming the source that cannot be
    /// read (a process gone, a container removed).
    pub async fn read(&self) -> anyhow::Result<Vec<CpuReading>> {
        let mut readings = Vec::with_capacity(self.counters.len());
        for counter in &self.counters {
            readings.push(match counter {
                Counter::Process(pids) => {
                    let tree = procfs::Tree::find(pids)?;
                    timed(CpuCounter::ProcessClock, async { tree.cpu_ns() }).await?
                }
                Counter::Cgroup(cgroup) => timed(cgroup.counter, async { cgroup.cpu_ns() }).await?,
                Counter::Daemon { docker, container } => {
                    let usage = docker_stats::total_usage_ns(docker, container);
                    timed(CpuCounter::DockerStats, usage).await?
                }
            });
        }
        Ok(readings)
    }
}

/// The cgroup of a running container, from its main process.
async fn container_cgroup(docker: &Docker, container: &str) -> anyhow::Result<CgroupCpu> {
    let inspected = docker
        .inspect_container(container, None)
        .await
        .with_context(|| format!("inspecting container '{container}'"))?;
    let pid = inspected
        .state
        .and_then(|state| state.pid)
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|&pid| pid > 0)
        .with_context(|| format!("container '{container}' has no main process"))?;
    let id = inspected.id.unwrap_or_default();
    CgroupCpu::of_process(pid, &id)
}

/// Reads a counter, stamped with the middle of the read.
async fn timed(
    counter: CpuCounter,
    read: impl Future<Output = anyhow::Result<u64>>,
) -> anyhow::Result<CpuReading> {
    let before = Instant::now();
    let cpu_ns = read.await?;
    let after = Instant::now();
    Ok(CpuReading {
        counter,
        cpu_ns,
        at: before + (after - before) / 2,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn reading(cpu_ns: u64, at: Instant) -> CpuReading {
        CpuReading {
            counter: CpuCounter::ProcessClock,
            cpu_ns,
            at,
        }
    }

    #[test]
    fn window_cpu_is_the_counters_change_over_the_time_between_readings() {
        let t0 = Instant::now();
        let start = reading(1_000_000_000, t0);
        let end = reading(1_090_000_000, t0 + Duration::from_secs(3));
        let w = WindowCpu::between(&start, &end).unwrap();
        assert_eq!(w.counter, CpuCounter::ProcessClock);
        assert!((w.seconds - 0.09).abs() < 1e-12, "{w:?}");
        assert!((w.pct - 3.0).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn no_time_another_counter_or_a_counter_going_back_is_no_figure() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        assert_eq!(WindowCpu::between(&reading(5, t0), &reading(9, t0)), None);
        assert_eq!(
            WindowCpu::between(&reading(9, t0), &reading(5, later)),
            None
        );
        let other = CpuReading {
            counter: CpuCounter::CgroupV2,
            ..reading(9, later)
        };
        assert_eq!(WindowCpu::between(&reading(5, t0), &other), None);
    }

    #[tokio::test]
    async fn reads_a_process_trees_clock_at_each_edge() {
        let me = [Source::Process {
            service: "me".into(),
            pids: vec![std::process::id()],
        }];
        let reader = EdgeReader::resolve(&me, None).await.unwrap();
        let thread_ns = || procfs::clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).unwrap();
        let start = reader.read().await.unwrap()[0];
        let spun_from = thread_ns();
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(spin.elapsed());
        }
        let spun = thread_ns() - spun_from;
        let end = reader.read().await.unwrap()[0];
        let w = WindowCpu::between(&start, &end).unwrap();
        assert_eq!(w.counter, CpuCounter::ProcessClock);
        // At least this thread's time spinning (its own clock, to the nanosecond): the process
        // clock holds every thread's.
        assert!(
            spun > 0 && w.seconds >= spun as f64 / 1e9,
            "{w:?}, spun {spun} ns"
        );
        let gone = [Source::Process {
            service: "gone".into(),
            pids: vec![u32::MAX - 1],
        }];
        let err = EdgeReader::resolve(&gone, None)
            .await
            .unwrap()
            .read()
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains(&(u32::MAX - 1).to_string()));
    }
}
