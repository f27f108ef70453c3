//! CPU and memory of the services under test, sampled about once a second while a cell runs.
//!
//! Two sources, one data model: [`docker_stats`] reads the daemon's stats stream and computes the
//! figures exactly as the `docker stats` CLI does; [`procfs`] reads `/proc` for local processes.
//! Both yield [`Sample`]s into a timestamped [`Series`] per service; [`summary`] turns a window of a
//! series into mean / p95 / max. The CPU a verdict rests on is not sampled: [`window_cpu`] reads
//! each service's cumulative CPU counter (process CPU clocks, a container's [`cgroup`]) right at a
//! window's edges; [`host`] reads what a run records about the machine itself. The types are
//! plain serde structs because run results and reports embed them.

pub mod cgroup;
pub mod docker_stats;
pub mod host;
pub mod procfs;
pub mod sampler;
pub mod summary;
pub mod window_cpu;

use serde::{Deserialize, Serialize};

pub use sampler::{Sampler, Source};
pub use summary::{Stat, WindowSummary};
pub use window_cpu::{CpuReading, EdgeReader, WindowCpu};

pub use crate::results::{CpuCounter, ResourceSample as Sample, ResourceSource};

/// The readings of one service, in time order. Samples are the run results' own type, so a
/// series goes into a result without conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The service (container name, or the process target's service name).
    pub service: String,
    /// `docker` (memory is usage minus inactive file cache) or `proc` (memory is VmRSS, over the process tree).
    pub source: ResourceSource,
    pub samples: Vec<Sample>,
    /// The memory limit docker last reported (the host's memory when unlimited); none for
    /// processes.
    pub mem_limit_bytes: Option<u64>,
}

/// Unix time now in milliseconds.
pub(crate) fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
