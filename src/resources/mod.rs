//! CPU and memory of the services under test, sampled about once a second while a cell runs.
//!
//! Two sources, one data model: [`docker_stats`] reads the daemon's stats stream and computes the
//! figures exactly as the `docker stats` CLI does; [`procfs`] reads `/proc` for local processes.
//! Both yield [`Sample`]s into a timestamped [`Series`] per service; [`summary`] turns a window of a
//! series into mean / p95 / max and an exact CPU figure from cumulative CPU time. The types are
//! plain serde structs because run results and reports embed them.

pub mod docker_stats;
pub mod procfs;
pub mod sampler;
pub mod summary;

use serde::{Deserialize, Serialize};

pub use sampler::{Sampler, Source};
pub use summary::{Stat, WindowSummary};

/// One reading of one service. Every figure is optional: a field the source did not report is "no
/// sample", never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the reading was taken (the daemon's `read` time for docker), unix milliseconds.
    pub t_unix_ms: i64,
    /// CPU over the interval before this reading, in % of one core (200 = two cores busy).
    pub cpu_pct: Option<f64>,
    /// Cumulative CPU time of the service since it started, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Memory in bytes: docker's "usage minus inactive file cache", or VmRSS for a process.
    pub mem_bytes: Option<u64>,
    /// The memory limit docker reports (the host's memory when unlimited); none for processes.
    pub mem_limit_bytes: Option<u64>,
}

/// The readings of one service, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The service (container name, or the process target's service name).
    pub service: String,
    /// Where the figures come from: `docker` (memory includes page cache but not inactive files)
    /// or `procfs` (memory is RSS).
    pub source: String,
    pub samples: Vec<Sample>,
}

/// Unix time now in milliseconds.
pub(crate) fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
