//! The run's summary: a serializable record of what was asked, what was achieved, and the three
//! latency distributions, in milliseconds. It is what `drive --json` writes and what `run` keeps
//! per cell; warnings about the driver's own trustworthiness are derived from it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::schedule::Arrivals;
use super::slowest::SlowRequest;
use hdrhistogram::Histogram;

/// Latency percentiles and mean, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// Percentiles of a histogram whose values are microseconds.
    pub fn from_hdr_us(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// What one load run did. Fields missing from a file default (a `summary.json` cell written before
/// the cell kept the whole summary lacks the run's settings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadSummary {
    /// Identifier of the run (the `{run}` placeholder).
    pub run_id: String,
    /// Requests per second asked for.
    pub requested_rate: f64,
    /// Responses per second over the measured window (extended to the last response).
    pub achieved_rate: f64,
    /// Length of the measured window, seconds (shorter than asked when `partial`).
    pub duration_s: f64,
    pub warmup_s: f64,
    pub arrivals: Arrivals,
    pub connections: usize,
    pub max_in_flight: usize,
    /// Requests due in the measured window: sent or dropped. Error and drop rates divide by it.
    pub due: u64,
    /// Requests due in the measured window that were handed to a connection.
    pub sent: u64,
    /// Responses received, whatever their status.
    pub completed: u64,
    /// Responses with an unexpected status, plus requests that got no response (whose latency,
    /// the time they took up to the timeout, is in the histograms).
    pub errors: u64,
    /// Requests not sent because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// Sent requests still unanswered when the drain time ran out.
    pub unfinished: u64,
    /// Responses per status (`"200"`, `"grpc:OK"`).
    pub status_counts: BTreeMap<String, u64>,
    /// Requests that got no response, per error message.
    pub error_kinds: BTreeMap<String, u64>,
    /// Completion minus due time (corrected for coordinated omission).
    pub latency_ms: Percentiles,
    /// Completion minus actual send time.
    pub service_time_ms: Percentiles,
    /// Actual send minus due time.
    pub driver_lag_ms: Percentiles,
    /// The slowest requests of the window, slowest first, with the traces their responses
    /// named.
    #[serde(default)]
    pub slowest: Vec<SlowRequest>,
    /// True when the run was stopped early (Ctrl-C or shutdown).
    pub partial: bool,
    /// CPU seconds the driver's own thread spent from the measured window's start until its
    /// last response (its thread CPU clock, ns resolution). The driver does the same work in
    /// every mode, so this tells how fast the machine ran the window; the analysis adjusts for it.
    #[serde(default)]
    pub driver_cpu_s: Option<f64>,
}

/// Driver lag p99 beyond this and the driver's own delay is no longer small next to a 1 ms budget.
pub const LAG_WARN_MS: f64 = 1.0;
/// Achieved rate below this share of the requested rate means the rate was not held.
pub const RATE_WARN_SHARE: f64 = 0.99;

/// Reasons not to trust a run's figures, each saying what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    Lag {
        p99_ms: f64,
    },
    Rate {
        achieved: f64,
        requested: f64,
    },
    Dropped {
        dropped: u64,
    },
    Unfinished {
        unfinished: u64,
    },
    /// Requests that got no response, of one kind (`no response within 1s`, `connect: ...`).
    NoResponse {
        requests: u64,
        kind: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Lag { p99_ms } => write!(
                f,
                "driver lag p99 is {p99_ms:.3} ms (> {LAG_WARN_MS} ms): requests waited for a free \
                 connection or the driver was late; raise --connections or lower --rate"
            ),
            Warning::Rate {
                achieved,
                requested,
            } => write!(
                f,
                "achieved {achieved:.1} req/s, more than 1% short of the requested {requested:.1} \
                 req/s: the target or the driver could not keep up"
            ),
            Warning::Dropped { dropped } => write!(
                f,
                "{dropped} requests were dropped at the in-flight cap: the target is slower than \
                 the rate; raise --max-in-flight or lower --rate"
            ),
            Warning::Unfinished { unfinished } => write!(
                f,
                "{unfinished} requests were still unanswered when the run ended"
            ),
            Warning::NoResponse { requests, kind } => {
                write!(f, "{requests} requests got no response: {kind}")
            }
        }
    }
}

impl LoadSummary {
    pub fn warnings(&self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if self.driver_lag_ms.p99 > LAG_WARN_MS {
            warnings.push(Warning::Lag {
                p99_ms: self.driver_lag_ms.p99,
            });
        }
        if !self.partial && self.achieved_rate < self.requested_rate * RATE_WARN_SHARE {
            warnings.push(Warning::Rate {
                achieved: self.achieved_rate,
                requested: self.requested_rate,
            });
        }
        if self.dropped > 0 {
            warnings.push(Warning::Dropped {
                dropped: self.dropped,
            });
        }
        if self.unfinished > 0 {
            warnings.push(Warning::Unfinished {
                unfinished: self.unfinished,
            });
        }
        warnings.extend(
            self.error_kinds
                .iter()
                .map(|(kind, &requests)| Warning::NoResponse {
                    requests,
                    kind: kind.clone(),
                }),
        );
        warnings
    }
}

/// The human summary printed by `drive`.
impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partial = if self.partial {
            " (partial: stopped early)"
        } else {
            ""
        };
        writeln!(
            f,
            "run {}: {:.1} s at {:.1} req/s requested, {:.1} req/s achieved{partial}",
            self.run_id, self.duration_s, self.requested_rate, self.achieved_rate
        )?;
        writeln!(
            f,
            "requests: {} due, {} sent, {} completed, {} errors, {} dropped, {} unfinished",
            self.due, self.sent, self.completed, self.errors, self.dropped, self.unfinished
        )?;
        let statuses: Vec<String> = self
            .status_counts
            .iter()
            .map(|(code, n)| format!("{code}={n}"))
            .collect();
        writeln!(f, "statuses: {}", statuses.join(" "))?;
        for (kind, n) in &self.error_kinds {
            writeln!(f, "error: {n} x {kind}")?;
        }
        writeln!(
            f,
            "{:<14}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "ms", "p50", "p90", "p99", "p99.9", "max", "mean"
        )?;
        for (name, p) in [
            ("latency", &self.latency_ms),
            ("service time", &self.service_time_ms),
            ("driver lag", &self.driver_lag_ms),
        ] {
            writeln!(
                f,
                "{name:<14}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
                p.p50, p.p90, p.p99, p.p999, p.max, p.mean
            )?;
        }
        if !self.slowest.is_empty() {
            writeln!(
                f,
                "slowest {}: {:>10}{:>10}{:>10}  {:<12}trace",
                self.slowest.len(),
                "latency",
                "service",
                "due at s",
                "status"
            )?;
            for r in &self.slowest {
                let trace = r.trace_id.map_or_else(|| "-".into(), |t| t.to_string());
                writeln!(
                    f,
                    "{:<11}{:>10.3}{:>10.3}{:>10.3}  {:<12}{trace}",
                    "",
                    r.latency_ms,
                    r.service_time_ms,
                    r.due_ms / 1000.0,
                    r.outcome
                )?;
            }
        }
        Ok(())
    }
}
