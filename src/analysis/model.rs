//! What the analysis derives from a run, as plain serde data: computed once by
//! [`analyze`](super::analyze), then rendered by every exporter (which do no statistics) and
//! compared by `tracebench compare`.
//!
//! Units are in field names (`_ms`, `_mb`, `_pct`, `_pp`); MB are 10^6 bytes, CPU is in % of one
//! core, and CPU overheads are in percentage points (pp) of one core.

use serde::{Deserialize, Serialize};

use crate::exit::Exit;
use crate::load::SlowRequest;
use crate::results::{Breakdown, RunResults};

/// The contents of `summary.json`: the run's raw results and their analysis, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`crate::results::SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    pub results: RunResults,
    pub analysis: Analysis,
}

/// Everything the analysis derived from one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// How the intervals were computed and the cells ordered, one sentence per figure.
    pub methods: Methods,
    /// One entry per mode and rate (means over rounds), modes in scenario order, rates ascending.
    pub groups: Vec<GroupSummary>,
    /// Budgets judged, group by group in the order of `groups`: trace volume for every mode
    /// (per counted service), latency, errors, CPU and memory (per service) for every
    /// non-baseline mode.
    pub budgets: Vec<BudgetResult>,
    /// The baseline against itself (its two cells of each round), per rate and budget (trace
    /// volume excluded), in the same model as the overheads, with a 99% interval: a diagnostic.
    /// Where that interval excludes 0, a mode passes the budget at that rate only with the A/A's
    /// farthest bound added to its interval.
    pub noise_floor: Vec<NoiseFloor>,
    /// The worst verdict over `budgets` (pass when there are no budgets to judge).
    pub outcome: Verdict,
    /// Each candidate variant against the base, in a run of variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<VariantComparison>,
    /// Things a reader should know before trusting the figures (missing baseline cells, partial
    /// run, too few rounds for an interval, the driver's own warnings, ...).
    pub warnings: Vec<String>,
    /// The slowest requests per mode and rate, with their traces, in the order of `groups`.
    #[serde(default)]
    pub slowest: Vec<SlowestGroup>,
}

impl GroupSummary {
    /// The services' CPU together, % of one core; `None` when any was not measured.
    pub fn services_cpu_pct(&self) -> Option<f64> {
        self.services
            .iter()
            .map(|s| s.cpu_pct.map(|e| e.value))
            .sum()
    }
}

impl Analysis {
    /// The exit code of `tracebench run`: any fail -> 1, else any inconclusive -> 3, else 0. A
    /// run of variants answers whether the candidate regressed: 1 if so, else 0 (the budgets'
    /// verdicts are in its reports).
    pub fn exit(&self) -> Exit {
        match &self.variants {
            Some(v) if v.rows.iter().any(|r| r.regression) => Exit::Fail,
            Some(_) => Exit::Pass,
            None => self.outcome.exit(),
        }
    }

    /// How many of the budgets judged while the run goes on (every budget but trace volume and
    /// completeness, which are judged once counted, at the end) are decided (pass or fail), and
    /// how many there are: the run stops adding rounds when the two are equal.
    pub fn decided(&self) -> (usize, usize) {
        let judged: Vec<&BudgetResult> = self
            .budgets
            .iter()
            .filter(|b| b.budget.judged_while_running())
            .collect();
        let decided = judged
            .iter()
            .filter(|b| b.verdict != Verdict::Inconclusive)
            .count();
        (decided, judged.len())
    }

    /// The rates measured, ascending.
    pub fn rates(&self) -> Vec<f64> {
        let mut rates: Vec<f64> = self.groups.iter().map(|g| g.rate).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        rates
    }
}

/// A budget's verdict. Ordered from best to worst, so the outcome of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At some look, the whole interval lies within the budget.
    Pass,
    /// No look decided it (the interval straddles the limit at the last look), the figure could
    /// not be measured or has no interval (too few rounds, zero spread), or a pass was blocked by
    /// an A/A whose interval excludes 0 by enough to reach the limit.
    Inconclusive,
    /// At some look, the whole interval lies beyond the budget.
    Fail,
}

impl Verdict {
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Pass => Exit::Pass,
            Verdict::Inconclusive => Exit::Inconclusive,
            Verdict::Fail => Exit::Fail,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "fail",
        }
    }
}

/// A point estimate and its confidence interval (level in [`Methods::confidence`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// Standard error of `value`, for a t interval (`low`/`high` = value +- t(df) x se); `None`
    /// for other intervals and for a point without an interval.
    #[serde(default)]
    pub se: Option<f64>,
    /// Degrees of freedom of the t interval.
    #[serde(default)]
    pub df: Option<f64>,
}

impl Estimate {
    /// An interval that is not a t interval (binomial, Wilson).
    pub fn new(value: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            value,
            low,
            high,
            se: None,
            df: None,
        }
    }

    /// A point with no interval.
    pub fn point(value: f64) -> Estimate {
        Estimate::new(value, value, value)
    }

    /// `value` +- t(df) x `se`, the 95% t interval.
    pub fn with_se(value: f64, se: f64, df: f64) -> Estimate {
        let half = super::stats::t975(df) * se;
        Estimate {
            value,
            low: value - half,
            high: value + half,
            se: Some(se),
            df: Some(df),
        }
    }

    /// True when there is an interval around the point: a t interval with a positive standard
    /// error, or a non-degenerate one. A zero standard error (every round measured the same, as
    /// a counter too coarse for the effect does) is never an interval.
    pub fn has_interval(&self) -> bool {
        match self.se {
            Some(se) => se > 0.0,
            None => self.low < self.high,
        }
    }
}

/// The statistical methods used, so a report can state them next to the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Methods {
    /// Confidence level of every interval except trace volume's (0.95).
    pub confidence: f64,
    /// One sentence each: how intervals are formed (rounds as replicates), how latency, CPU,
    /// memory, errors and trace volume are judged, how cells are ordered, and the A/A noise floor.
    pub intervals: String,
    pub latency: String,
    pub cpu: String,
    pub memory: String,
    pub errors: String,
    pub trace_volume: String,
    pub order: String,
    pub noise_floor: String,
}

/// One mode at one rate, pooled over its rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub mode: String,
    /// The target rate in requests per second.
    pub rate: f64,
    /// Rounds measured here.
    pub rounds: u32,
    /// Cells pooled here (the baseline has two per round).
    pub cells: u32,
    /// Seconds of measured window pooled here (sum of the cells' per-second records).
    pub seconds: u32,
    /// Latency: the mean over rounds of each round's percentile, with its t interval.
    pub latency_ms: LatencySummary,
    /// Responses per second of measured window, mean over rounds with its t interval (at most
    /// the requested rate: only requests due in the window are counted).
    pub throughput_rps: Estimate,
    /// Mean of the cells' achieved rates (responses over the window extended to the last one).
    pub achieved_rate: f64,
    /// Requests due in the windows: sent or dropped.
    pub due: u64,
    pub sent: u64,
    pub completed: u64,
    pub ok: u64,
    pub errors: u64,
    pub dropped: u64,
    pub unfinished: u64,
    /// (errors + dropped + unfinished) / due, with a Wilson score interval.
    pub error_rate: Estimate,
    /// One entry per service, in the order the cells list them.
    pub services: Vec<ServiceSummary>,
    /// One entry per counted service; empty when traces were not counted.
    pub traces: Vec<TraceVolume>,
    /// What tracebench itself cost and how late it sent.
    #[serde(default)]
    pub driver: DriverSummary,
    /// True when any pooled cell was cut short.
    pub partial: bool,
}

/// The driver's own cost beside the figures it produced: a busy or late driver takes CPU from
/// the services and adds latency of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DriverSummary {
    /// tracebench's CPU over the windows (driver, samplers, an in-process sink), % of one core,
    /// mean of the cells; `None` when not measured.
    pub tracebench_cpu_pct: Option<f64>,
    /// The worst cell's driver lag (actual send minus due time) at p99, and its maximum, ms.
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
}

/// Latency of a group in milliseconds: per-round percentiles (failed requests included with the
/// time they took), averaged over rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: Estimate,
    pub p90: Estimate,
    pub p99: Estimate,
    pub p999: Estimate,
    pub mean: Estimate,
    /// The largest latency of any cell.
    pub max: f64,
}

/// One service's resources in a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub service: String,
    /// Mean over rounds of the window CPU (cumulative CPU time / window), % of one core, with
    /// its t interval. Falls back to the mean of the per-second samples when the window figure
    /// is missing.
    pub cpu_pct: Option<Estimate>,
    /// CPU seconds per 1,000 completed requests (total CPU time over total completed).
    pub cpu_seconds_per_1k_requests: Option<f64>,
    /// Mean over rounds of each window's mean memory, MB, with its t interval.
    pub memory_mean_mb: Option<Estimate>,
    /// Largest memory sample, MB.
    pub memory_max_mb: Option<f64>,
}

/// Traces counted for one service in a group, against what the mode's sampling ratio predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceVolume {
    pub service: String,
    pub observed: u64,
    /// ok requests x sampling ratio; `low`/`high` is the 99% binomial (Wilson) interval of the
    /// count a sampler with that ratio keeps.
    pub expected: Estimate,
    pub observed_per_minute: f64,
    pub expected_per_minute: f64,
    /// Counted traces holding every service of `traces.services`, and the others; `None` when
    /// the store did not say.
    #[serde(default)]
    pub complete: Option<u64>,
    #[serde(default)]
    pub incomplete: Option<u64>,
}

/// What a budget limits. Serialised with a `kind` tag: `{"kind":"latency","percentile":"p99"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BudgetKind {
    /// Added latency at a percentile, ms.
    Latency { percentile: String },
    /// Added CPU of a service, percentage points of one core.
    Cpu { service: String },
    /// Added memory of a service, MB.
    Memory { service: String },
    /// Traces observed for a service against expected.
    TraceVolume { service: String },
    /// Counted traces of a service missing a span of a listed service, % of them.
    Completeness { service: String },
    /// Added errors: failed, timed-out, unexpected-status, dropped and unfinished requests as a
    /// share of requests due, percentage points.
    Errors,
}

impl BudgetKind {
    /// A short label for tables: `latency p99`, `cpu gateway`, `memory auth`, `traces gateway`.
    pub fn label(&self) -> String {
        match self {
            BudgetKind::Latency { percentile } => format!("latency {percentile}"),
            BudgetKind::Cpu { service } => format!("cpu {service}"),
            BudgetKind::Memory { service } => format!("memory {service}"),
            BudgetKind::TraceVolume { service } => format!("traces {service}"),
            BudgetKind::Completeness { service } => format!("complete traces {service}"),
            BudgetKind::Errors => "errors".to_string(),
        }
    }

    /// Whether the budget is judged at every look of a sequential run; trace volume and
    /// completeness are judged once the traces are counted, at the end.
    pub fn judged_while_running(&self) -> bool {
        !matches!(
            self,
            BudgetKind::TraceVolume { .. } | BudgetKind::Completeness { .. }
        )
    }

    /// The unit of the overhead and the limit: `ms`, `pp`, `MB`, or `ratio` for trace volume.
    pub fn unit(&self) -> &'static str {
        match self {
            BudgetKind::Latency { .. } => "ms",
            BudgetKind::Cpu { .. } | BudgetKind::Errors => "pp",
            BudgetKind::Memory { .. } => "MB",
            BudgetKind::TraceVolume { .. } => "ratio",
            BudgetKind::Completeness { .. } => "%",
        }
    }
}

/// One budget judged for one mode at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetResult {
    pub mode: String,
    pub rate: f64,
    pub budget: BudgetKind,
    /// The most the overhead may be, in [`BudgetKind::unit`]; for trace volume, the allowed
    /// relative shortfall or excess (0 = exact).
    pub limit: f64,
    /// Mode minus baseline at the same rate, with its interval at the deciding look (estimate
    /// +- the look's boundary x standard error; with one look the 95% t interval); for trace volume,
    /// observed / expected with the 99% binomial interval divided by expected. `None` when it
    /// could not be measured (then the verdict is inconclusive and `note` says why).
    pub overhead: Option<Estimate>,
    pub verdict: Verdict,
    /// Memory only: whether the point estimate lies in the expected range (information, not a
    /// verdict).
    pub in_expected_range: Option<bool>,
    /// Trace volume only: the counts behind the verdict.
    pub traces: Option<TraceCheck>,
    /// Why the verdict is what it is when that is not obvious from the figures.
    pub note: Option<String>,
    /// Where the sequential verdict stands: the look that decided it, or how far from deciding
    /// it is at the last look. `None` for trace budgets (judged once, on counts).
    #[serde(default)]
    pub decision: Option<Decision>,
    /// The mode's first-order carry-over: how much a cell measured right after this mode moves
    /// from one measured after the baseline, with its 95% interval. `None` where the order did
    /// not make it estimable.
    #[serde(default)]
    pub carry_over: Option<Estimate>,
}

/// A budget's sequential verdict: when it was decided, or how far it is from deciding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Rounds measured at the look that decided the verdict; at the last look when undecided.
    pub rounds: u32,
    pub decided: bool,
    /// The boundary at that look, in standard errors: the overhead's interval is +- this many.
    pub boundary: f64,
    /// The smallest distance from the limit the run could tell at that look (boundary x
    /// standard error): an overhead closer to the limit than this stays undecided.
    pub resolution: f64,
    /// Undecided only: about how many more rounds, at the noise measured, would bring the
    /// resolution down to the overhead's distance from its limit; `None` when decided or when
    /// the overhead sits on the limit.
    pub more_rounds: Option<u32>,
}

/// Trace volume's evidence: observed count against the acceptance interval of the expected count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TraceCheck {
    pub observed: u64,
    pub expected: f64,
    /// The 99% binomial interval of the expected count, widened by the tolerance: pass when
    /// `observed` lies within `[accept_low, accept_high]`.
    pub accept_low: f64,
    pub accept_high: f64,
}

/// Candidate variants against the base, measured in the same rounds: per mode, rate and budget,
/// the difference of the absolute figure and of the overhead, each against a regression
/// threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantComparison {
    /// The variant the others are held to (the first).
    pub base: String,
    /// How the differences were estimated and judged.
    pub method: String,
    pub rows: Vec<VariantRow>,
}

/// One figure of one candidate against the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRow {
    pub candidate: String,
    /// The mode's own name (`on`), the same in both variants.
    pub mode: String,
    pub rate: f64,
    pub budget: BudgetKind,
    /// True: the difference of the overheads against each variant's baseline; false: of the
    /// absolute figure.
    pub overhead: bool,
    /// The base's figure (its mean over rounds), for a relative threshold.
    pub base_value: Option<f64>,
    /// Candidate minus base, with its 95% interval.
    pub difference: Option<Estimate>,
    /// The threshold in the figure's unit, and the `--threshold` key it comes from.
    pub threshold: f64,
    pub threshold_key: String,
    /// The whole interval lies beyond the threshold.
    pub regression: bool,
}

/// The baseline against itself for one budget at one rate: the size of "no effect".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseFloor {
    /// The baseline compared with itself (with variants, one per variant); empty in runs
    /// written before variants: the run's baseline.
    #[serde(default)]
    pub mode: String,
    pub rate: f64,
    pub budget: BudgetKind,
    /// The same statistic as the budget's overhead, between the baseline's two cells of each
    /// round.
    pub estimate: Estimate,
    /// Pass when the A/A's 99% interval holds 0, fail when it excludes 0 (then a budget's pass at
    /// this rate must hold with it added; see [`Analysis::noise_floor`]), inconclusive without one.
    pub verdict: Verdict,
    /// What was compared with what (`the baseline's two cells (restarts) of each round`).
    pub split: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_verdict_is_the_maximum() {
        let all = [Verdict::Pass, Verdict::Fail, Verdict::Inconclusive];
        assert_eq!(all.iter().max(), Some(&Verdict::Fail));
        assert_eq!(
            [Verdict::Pass, Verdict::Inconclusive].iter().max(),
            Some(&Verdict::Inconclusive)
        );
        assert_eq!(Verdict::Fail.exit(), Exit::Fail);
        assert_eq!(Verdict::Inconclusive.exit(), Exit::Inconclusive);
        assert_eq!(Verdict::Pass.exit(), Exit::Pass);
    }

    #[test]
    fn budget_kind_is_tagged_in_json() {
        let kind = BudgetKind::Latency {
            percentile: "p99".into(),
        };
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, r#"{"kind":"latency","percentile":"p99"}"#);
        assert_eq!(serde_json::from_str::<BudgetKind>(&json).unwrap(), kind);
    }
}

/// The slowest requests of one mode at one rate, over its cells (rounds and replicates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowestGroup {
    pub mode: String,
    pub rate: f64,
    /// Slowest first; as many as one cell keeps (`traces.slowest`).
    pub requests: Vec<SlowRow>,
    /// Of `requests`: how many named a trace, and how many of those the store returned.
    pub with_trace: usize,
    pub found: usize,
    /// The mean of the requests' breakdowns (those whose trace was found).
    pub mean: Option<Breakdown>,
}

/// One slow request, with the cell it came from and its trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRow {
    pub round: u32,
    pub replicate: u32,
    #[serde(flatten)]
    pub request: SlowRequest,
    /// The trace, from the link template; `None` without a trace ID.
    pub link: Option<String>,
    /// Whether the store returned the trace; `None` when it was not looked up.
    pub found: Option<bool>,
    /// Whether it holds every expected service; `None` when not known.
    pub complete: Option<bool>,
    pub breakdown: Option<Breakdown>,
}
