//! What a `tracebench run` measures, as plain serde data: the contract between the run (which
//! fills it cell by cell), the analysis (which derives overheads and verdicts from it) and the
//! exporters (which render it). Nothing here computes statistics.
//!
//! Units are in field names (`_ms`, `_us`, `_bytes`, `_pct`, `_unix_ms`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use crate::load::{LoadSummary, Percentiles, TraceId};
pub use crate::traces::breakdown::Breakdown;
pub use crate::traces::link::TraceLink;

/// Version of the `summary.json` schema; bump on any incompatible change. 3: each cell's and each
/// second's latency is an [`EncodedHistogram`] (2 wrote bucket lists; `compare` still reads 2).
pub const SCHEMA_VERSION: u32 = 3;

/// Everything one run measured. Appended to as cells finish; complete once `finished_unix_ms` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: u32,
    /// Scenario name (file stem) and path it was read from.
    pub scenario_name: String,
    pub scenario_path: String,
    pub started_unix_ms: i64,
    pub finished_unix_ms: Option<i64>,
    /// Seed of the order of cells (given by `--seed` or `load.seed`, else drawn per run): the
    /// same seed and scenario give the same order.
    pub seed: u64,
    /// True when the run stopped early (Ctrl-C, error): the cells present are still valid.
    pub partial: bool,
    /// Why the run stopped early, when it did.
    pub stop_reason: Option<String>,
    /// The modes in the order the scenario lists them; `baseline` names one of them. With
    /// variants, one per variant and mode, named `VARIANT/MODE`, variant by variant.
    pub modes: Vec<ModeInfo>,
    /// The mode every other is measured against (with variants, each variant's own
    /// `VARIANT/BASELINE`: see [`RunResults::baseline_of`]).
    pub baseline: String,
    /// The builds measured side by side (`[[variants]]`), the first the base; empty for a run of
    /// one build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
    /// The regression thresholds a candidate variant is held to (`run --threshold KEY=LIMIT`,
    /// as given), over the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<String>,
    pub budgets: Budgets,
    /// Where the load went: a URL, or `grpc://ADDR`.
    pub request_target: String,
    pub environment: Environment,
    pub cells: Vec<CellResult>,
    /// Trace counts per cell and service, once counted (after the last cell).
    pub traces: Option<TraceResults>,
    /// Connectivity probes, once run.
    pub probes: Option<ProbeResults>,
    /// The sequential design the run followed: where it looked and how far it could go. `None`
    /// in runs written before runs became sequential (then one look, at the end).
    #[serde(default)]
    pub design: Option<Design>,
    /// Earlier runs of the same scenario on this machine, read when the run started: each
    /// budget's overhead there, for the variation between runs. Empty when there were none.
    #[serde(default)]
    pub history: Vec<PastRun>,
    /// The version or commit the run measured (`run --label`, or $GITHUB_SHA), for `trend`.
    #[serde(default)]
    pub label: Option<String>,
}

/// An earlier run's overheads, as its analysis gave them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastRun {
    /// Its run directory.
    pub dir: String,
    pub started_unix_ms: i64,
    pub overheads: Vec<PastOverhead>,
}

/// One budget's overhead in an earlier run, with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastOverhead {
    pub mode: String,
    pub rate: f64,
    pub budget: crate::analysis::BudgetKind,
    pub value: f64,
    pub se: f64,
}

/// A sequential run: at least `min_rounds` rounds, then whole squares of the order's design
/// (`square` rounds each) until every budget is decided or `max_rounds` is reached. The run
/// looks at its results after `min_rounds` and after every square beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Design {
    pub min_rounds: u32,
    pub max_rounds: u32,
    pub square: u32,
}

impl Design {
    /// A run of exactly `rounds` rounds: one look, at its end.
    pub fn fixed(rounds: u32) -> Design {
        Design {
            min_rounds: rounds,
            max_rounds: rounds,
            square: rounds.max(1),
        }
    }

    /// The round counts at which the run looks: `min_rounds`, then every `square` more, and
    /// `max_rounds` last (also when it is not a whole square beyond the previous look).
    pub fn looks(&self) -> Vec<u32> {
        let mut looks = Vec::new();
        let mut r = self.min_rounds.max(1);
        while r < self.max_rounds {
            looks.push(r);
            r += self.square.max(1);
        }
        looks.push(self.max_rounds.max(self.min_rounds).max(1));
        looks
    }
}

/// A tracing mode as applied to the services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeInfo {
    pub name: String,
    /// Share of root traces the mode is expected to keep: 0 for off, 1 for on, 0.1 when sampled.
    pub sampling_ratio: f64,
    /// Environment overrides applied to every service in this mode.
    pub env: BTreeMap<String, String>,
}

/// The limits a mode's overhead against the baseline must stay within.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    /// Added latency in ms, per statistic name (`p50`, `p90`, `p99`, `p999`, `max`, `mean`).
    pub latency_ms: BTreeMap<String, f64>,
    /// Added CPU in percentage points of one core, per service.
    pub cpu_pp: Option<f64>,
    /// Added memory in MB (10^6 bytes), per service.
    pub memory_mb: Option<f64>,
    /// The expected range of added memory in MB, shown beside the verdict (checklist: 10-20 MB).
    pub memory_expected_mb: Option<(f64, f64)>,
    /// Allowed relative shortfall or excess of observed traces against expected (0.0 = exact,
    /// judged against the binomial interval of the expectation).
    pub trace_volume_tolerance: Option<f64>,
    /// Added errors (failed, timed-out, unexpected-status, dropped and unfinished requests over
    /// requests due) in percentage points.
    #[serde(default)]
    pub errors_pp: Option<f64>,
    /// Counted traces allowed to be incomplete (a service of `traces.services` missing), % of
    /// the counted traces.
    #[serde(default)]
    pub incomplete_traces_pct: Option<f64>,
}

/// Where the run happened, for the report's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub tracebench_version: String,
    pub hostname: String,
    pub os: String,
    pub cpus: usize,
    pub target_kind: String,
    /// The CPU model (`/proc/cpuinfo`).
    #[serde(default)]
    pub cpu_model: Option<String>,
    /// The kernel release.
    #[serde(default)]
    pub kernel: Option<String>,
    /// The CPU limit of tracebench's own cgroup, cores; `None` when unlimited.
    #[serde(default)]
    pub cpu_limit_cores: Option<f64>,
    /// The memory limit of tracebench's own cgroup, bytes; `None` when unlimited.
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    /// What each service runs: a process service's program and its digest (the build), a
    /// container's image.
    #[serde(default)]
    pub programs: Vec<Program>,
}

/// What one service ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub service: String,
    /// The program's path, or the container's image.
    pub name: String,
    /// The program file's digest, or the image's ID; `None` for an unreadable program or an
    /// image the daemon does not know.
    pub digest: Option<String>,
}

impl Environment {
    /// What differs between two runs' machines and programs, one line each ("kernel 6.1 / 6.8");
    /// empty when nothing recorded differs. Fields one run did not record are not compared.
    pub fn differences(&self, other: &Environment) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, a: Option<String>, b: Option<String>| {
            if let (Some(a), Some(b)) = (a, b)
                && a != b
            {
                out.push(format!("{what}: {a} / {b}"));
            }
        };
        differ(
            "host",
            Some(self.hostname.clone()),
            Some(other.hostname.clone()),
        );
        differ(
            "cpus",
            Some(self.cpus.to_string()),
            Some(other.cpus.to_string()),
        );
        differ("cpu model", self.cpu_model.clone(), other.cpu_model.clone());
        differ("kernel", self.kernel.clone(), other.kernel.clone());
        let cores =
            |e: &Environment| Some(e.cpu_limit_cores.map_or("none".into(), |c| c.to_string()));
        differ("cgroup cpu limit (cores)", cores(self), cores(other));
        let memory = |e: &Environment| {
            Some(
                e.memory_limit_bytes
                    .map_or("none".into(), |m| m.to_string()),
            )
        };
        differ("cgroup memory limit (bytes)", memory(self), memory(other));
        for p in &self.programs {
            if let Some(q) = other.programs.iter().find(|q| q.service == p.service) {
                let id = |p: &Program| {
                    Some(
                        format!("{} {}", p.name, p.digest.as_deref().unwrap_or(""))
                            .trim()
                            .to_string(),
                    )
                };
                differ(&format!("{} runs", p.service), id(p), id(q));
            }
        }
        out
    }
}

/// One measurement: one mode at one rate in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    pub mode: String,
    pub rate: f64,
    pub round: u32,
    /// 0; 1 for the baseline's second cell of a round (the A/A pair, as a restart of its own).
    #[serde(default)]
    pub replicate: u32,
    /// Position in the run's execution order (0-based).
    pub order: u32,
    /// The measured window (warm-up excluded).
    pub window_start_unix_ms: i64,
    pub window_end_unix_ms: i64,
    /// What the driver reported, whole (its fields sit beside the cell's in JSON).
    #[serde(flatten)]
    pub load: LoadSummary,
    /// Completed with an expected status.
    pub ok: u64,
    /// What the driver warned about (lag, drops, unfinished requests, error kinds).
    pub warnings: Vec<String>,
    /// CPU seconds tracebench itself spent while driving the window (the driver, its samplers,
    /// and the built-in sink when it runs in-process), from its own process CPU clock (ns).
    #[serde(default)]
    pub tracebench_cpu_s: Option<f64>,
    /// The share of the machine's CPU time the hypervisor stole during the window, %
    /// (`/proc/stat`); `None` where not read.
    #[serde(default)]
    pub steal_pct: Option<f64>,
    /// The whole window's corrected latency histogram (failed requests with the time they took).
    pub latency: EncodedHistogram,
    /// One record per second of the window, for timelines and interval logs.
    pub seconds: Vec<SecondRecord>,
    /// One series per service.
    pub resources: Vec<ServiceResources>,
}

/// The variant a mode belongs to (`candidate` of `candidate/on`) and the mode's own name; no
/// variant for a run of one build.
pub fn split_mode(mode: &str) -> (Option<&str>, &str) {
    match mode.split_once('/') {
        Some((variant, plain)) => (Some(variant), plain),
        None => (None, mode),
    }
}

impl RunResults {
    /// The mode `mode` is measured against: the baseline of its own variant.
    pub fn baseline_of(&self, mode: &str) -> String {
        match split_mode(mode).0 {
            Some(variant) => format!("{variant}/{}", self.baseline),
            None => self.baseline.clone(),
        }
    }

    /// Whether `mode` is a baseline (of its variant).
    pub fn is_baseline(&self, mode: &str) -> bool {
        split_mode(mode).1 == self.baseline
    }

    /// The mean share of CPU time stolen by the hypervisor over the cells' windows, %.
    pub fn steal_pct(&self) -> Option<f64> {
        let steals: Vec<f64> = self.cells.iter().filter_map(|c| c.steal_pct).collect();
        (!steals.is_empty()).then(|| steals.iter().sum::<f64>() / steals.len() as f64)
    }
}

impl CellResult {
    /// Requests that failed, timed out, got an unexpected status, were dropped at the in-flight
    /// cap or never finished: what error rates count against requests due.
    pub fn failed_requests(&self) -> u64 {
        self.load.errors + self.load.dropped + self.load.unfinished
    }

    /// Requests sent that got no answer: failures without a response (timeouts, resets) and
    /// requests still unfinished. They may or may not have reached the service.
    pub fn unanswered(&self) -> u64 {
        self.load.error_kinds.values().sum::<u64>() + self.load.unfinished
    }

    /// Requests whose latency was recorded: every response, and every failure with the time it
    /// took.
    pub fn recorded(&self) -> u64 {
        self.load.completed + self.load.error_kinds.values().sum::<u64>()
    }

    /// [`failed_requests`](Self::failed_requests) as % of requests due (0 when nothing was due).
    pub fn error_pct(&self) -> f64 {
        if self.load.due == 0 {
            return 0.0;
        }
        self.failed_requests() as f64 / self.load.due as f64 * 100.0
    }

    /// True for the same (mode, rate, round, replicate) cell.
    pub fn is(&self, mode: &str, rate: f64, round: u32, replicate: u32) -> bool {
        self.mode == mode && self.rate == rate && self.round == round && self.replicate == replicate
    }
}

/// An HDR histogram reduced to its recorded buckets: `(value_us, count)` pairs in increasing
/// value order, where `value_us` is the highest value equivalent to the bucket. Exact to the
/// histogram's precision (3 significant digits), compact (one pair per distinct bucket hit) and
/// mergeable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseHistogram {
    pub buckets: Vec<(u64, u64)>,
}

impl SparseHistogram {
    pub fn from_hdr(h: &Histogram<u64>) -> SparseHistogram {
        let buckets = h
            .iter_recorded()
            .map(|v| {
                (
                    h.highest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                )
            })
            .collect();
        SparseHistogram { buckets }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|&(_, c)| c).sum()
    }

    /// Back to a full HDR histogram (1 us to 60 s, 3 significant digits): each bucket is
    /// recorded at its value, so percentiles and counts come out as they went in.
    pub fn to_hdr(&self) -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for &(value_us, count) in &self.buckets {
            h.record_n(value_us, count).map_err(|err| {
                anyhow::anyhow!("histogram value {value_us} us is outside 1 us to 60 s: {err:?}")
            })?;
        }
        Ok(h)
    }
}

/// One second of a cell's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondRecord {
    /// Seconds since the window's start.
    pub offset_s: u32,
    pub completed: u64,
    pub errors: u64,
    /// Corrected latency of the requests that ended in this second, failed ones included.
    pub latency_us: EncodedHistogram,
}

/// A histogram in HdrHistogram's compressed V2 encoding, base64: the payload of an interval log
/// line, which any HdrHistogram library reads. A second at a few hundred requests takes a few
/// hundred bytes this way, against kilobytes as a bucket list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncodedHistogram(pub String);

impl EncodedHistogram {
    pub fn from_hdr(h: &Histogram<u64>) -> EncodedHistogram {
        use base64::Engine;
        let mut bytes = Vec::new();
        // Writing into memory fails only for a histogram too large to encode (not ours).
        hdrhistogram::serialization::Serializer::serialize(
            &mut hdrhistogram::serialization::V2DeflateSerializer::new(),
            h,
            &mut bytes,
        )
        .expect("a latency histogram encodes");
        EncodedHistogram(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn to_hdr(&self) -> anyhow::Result<Histogram<u64>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .map_err(|err| anyhow::anyhow!("a per-second histogram is not base64: {err}"))?;
        hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|err| anyhow::anyhow!("a per-second histogram does not decode: {err:?}"))
    }
}

/// How a service's resources were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSource {
    /// Docker's stats API, computed as `docker stats` does (memory = usage - inactive file).
    Docker,
    /// /proc for the process and every process under it (CPU from utime+stime with what they
    /// reaped, memory = VmRSS, summed).
    Proc,
}

/// One service's CPU and memory over a cell's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceResources {
    pub service: String,
    pub source: ResourceSource,
    pub samples: Vec<ResourceSample>,
    /// CPU over the whole window from the service's cumulative CPU counter read at the window's
    /// edges: (end - start) / the time between the two readings, in % of one core.
    pub window_cpu_pct: Option<f64>,
    /// CPU seconds the service used between those two readings.
    #[serde(default)]
    pub window_cpu_seconds: Option<f64>,
    /// The counter `window_cpu_pct` comes from.
    #[serde(default)]
    pub cpu_counter: CpuCounter,
    /// CPU seconds spent per 1,000 requests completed in the window.
    pub cpu_seconds_per_1k_requests: Option<f64>,
}

/// The cumulative CPU counter a service's window CPU was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuCounter {
    /// The first and last one-second samples inside the window (results written before the
    /// counters were read at the window's edges).
    #[default]
    Samples,
    /// The CPU clocks (ns) of a process and every process under it, plus what they reaped.
    ProcessClock,
    /// The container's cgroup v2 `cpu.stat` `usage_usec`.
    CgroupV2,
    /// The container's cgroup v1 `cpuacct.usage` (ns).
    CgroupV1,
    /// The Docker daemon's stats (`cpu_stats.cpu_usage.total_usage`), when the container's
    /// cgroup cannot be read.
    DockerStats,
}

impl std::fmt::Display for CpuCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CpuCounter::Samples => "1 s samples",
            CpuCounter::ProcessClock => "process CPU clocks",
            CpuCounter::CgroupV2 => "cgroup cpu.stat",
            CpuCounter::CgroupV1 => "cgroup v1 cpuacct.usage",
            CpuCounter::DockerStats => "docker stats (fallback)",
        })
    }
}

/// One sample; a missing figure is `None`, never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    pub unix_ms: i64,
    /// % of one core over the interval ending at this sample.
    pub cpu_pct: Option<f64>,
    pub mem_bytes: Option<u64>,
    /// Cumulative CPU time of the service, when the source gives it.
    pub cpu_seconds: Option<f64>,
}

/// Traces counted in the trace store, cell by cell as the run goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResults {
    /// `tempo <url>` or `built-in sink`.
    pub store: String,
    /// How the counts were obtained (e.g. `search over 60 s slices`, `traceql count_over_time`).
    pub method: String,
    pub cells: Vec<CellTraces>,
    /// Spans the store itself dropped (bounded sink), when known.
    pub store_dropped_spans: Option<u64>,
    /// The traces of each cell's slowest requests, as the store returned them after the cell.
    #[serde(default)]
    pub slow_traces: Vec<SlowTrace>,
    /// The template of links to a trace (`{trace_id}`, `{start_ms}`, `{end_ms}`).
    #[serde(default)]
    pub link: Option<TraceLink>,
}

/// The trace of one of a cell's slowest requests ([`LoadSummary::slowest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowTrace {
    pub mode: String,
    pub rate: f64,
    pub round: u32,
    #[serde(default)]
    pub replicate: u32,
    pub trace_id: TraceId,
    /// The store returned the trace.
    pub found: bool,
    /// Its services, as the scenario's `traces.services` expects (`None` when none are named).
    pub complete: Option<bool>,
    /// Where the request's latency went; `None` when the trace was not found or has no root.
    pub breakdown: Option<Breakdown>,
}

/// Traces whose root is `service`, counted over one cell's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellTraces {
    pub mode: String,
    pub rate: f64,
    pub round: u32,
    #[serde(default)]
    pub replicate: u32,
    pub service: String,
    pub observed: u64,
    pub per_minute: Vec<MinuteCount>,
    /// Of `observed`, traces holding a span of every service in `traces.services`, and traces
    /// missing one; `None` when the store does not say (or no services are listed).
    #[serde(default)]
    pub complete: Option<u64>,
    #[serde(default)]
    pub incomplete: Option<u64>,
}

impl CellTraces {
    /// True when these are the counts of `cell`.
    pub fn counts(&self, cell: &CellResult) -> bool {
        cell.is(&self.mode, self.rate, self.round, self.replicate)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteCount {
    /// Start of the minute (or of the counting step).
    pub start_unix_s: i64,
    pub count: u64,
}

/// Probe requests carrying known, sampled trace IDs, looked up in the trace store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResults {
    pub sent: u64,
    pub found: u64,
    pub missing: u64,
    pub broken: u64,
    pub ingestion_delay_p50_ms: Option<f64>,
    pub ingestion_delay_max_ms: Option<f64>,
    /// One line per missing or broken probe: trace ID and what was wrong.
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_histogram_keeps_counts_and_order() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in [100, 100, 2_500, 1_000_000] {
            h.record(v).unwrap();
        }
        let s = SparseHistogram::from_hdr(&h);
        assert_eq!(s.count(), 4);
        assert_eq!(s.buckets.len(), 3);
        assert!(s.buckets.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(s.buckets[0], (100, 2));
    }

    #[test]
    fn sparse_histogram_converts_back_to_the_same_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in [1, 100, 100, 2_500, 1_000_000, 59_000_000] {
            h.record(v).unwrap();
        }
        let back = SparseHistogram::from_hdr(&h).to_hdr().unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(
            Percentiles::from_hdr_us(&back),
            Percentiles::from_hdr_us(&h)
        );
        assert_eq!(
            SparseHistogram::from_hdr(&back),
            SparseHistogram::from_hdr(&h)
        );
    }

    #[test]
    fn percentiles_of_an_empty_histogram_are_zero() {
        let h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        assert_eq!(Percentiles::from_hdr_us(&h), Percentiles::default());
    }

    #[test]
    fn encoded_histograms_round_trip_and_are_small() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for i in 0..500u64 {
            h.record(150 + i * 7).unwrap();
        }
        let encoded = EncodedHistogram::from_hdr(&h);
        assert_eq!(encoded.to_hdr().unwrap(), h);
        let buckets = serde_json::to_string(&SparseHistogram::from_hdr(&h)).unwrap();
        assert!(
            encoded.0.len() * 4 < buckets.len(),
            "{} vs {}",
            encoded.0.len(),
            buckets.len()
        );
        assert!(EncodedHistogram("not base64!".into()).to_hdr().is_err());
    }
}
