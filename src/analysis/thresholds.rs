//! What `--threshold KEY=LIMIT` names: the figures compared and how far each may move.

use std::collections::BTreeMap;

use crate::error::UsageError;

/// A figure compared between runs; its key is what `--threshold KEY=LIMIT` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    P50,
    P99,
    Throughput,
    Errors,
    Cpu,
    Memory,
    LatencyOverhead,
    CpuOverhead,
    MemoryOverhead,
    ErrorsOverhead,
}

impl Figure {
    pub const ALL: [Figure; 10] = [
        Figure::P50,
        Figure::P99,
        Figure::Throughput,
        Figure::Errors,
        Figure::Cpu,
        Figure::Memory,
        Figure::LatencyOverhead,
        Figure::CpuOverhead,
        Figure::MemoryOverhead,
        Figure::ErrorsOverhead,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::Throughput => "throughput",
            Figure::Errors => "errors",
            Figure::Cpu => "cpu",
            Figure::Memory => "memory",
            Figure::LatencyOverhead => "latency-overhead",
            Figure::CpuOverhead => "cpu-overhead",
            Figure::MemoryOverhead => "memory-overhead",
            Figure::ErrorsOverhead => "errors-overhead",
        }
    }

    /// The unit of the figure and of an absolute threshold on it.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::P50 | Figure::P99 | Figure::LatencyOverhead => "ms",
            Figure::Throughput => "rps",
            Figure::Errors | Figure::Cpu | Figure::CpuOverhead | Figure::ErrorsOverhead => "pp",
            Figure::Memory | Figure::MemoryOverhead => "MB",
        }
    }

    /// The unit the figure's values are shown in (an error rate is a %, its threshold in pp).
    pub(crate) fn value_unit(self) -> &'static str {
        match self {
            Figure::Errors => "%",
            Figure::Cpu => "% of a core",
            _ => self.unit(),
        }
    }

    pub(crate) fn is_overhead(self) -> bool {
        matches!(
            self,
            Figure::LatencyOverhead
                | Figure::CpuOverhead
                | Figure::MemoryOverhead
                | Figure::ErrorsOverhead
        )
    }

    /// Whether the figure decides the exit code without `--gate-absolute`: overheads (machine
    /// drift cancels in them) and the error rate (it does not drift with the machine's speed).
    pub(crate) fn gates_by_default(self) -> bool {
        self.is_overhead() || self == Figure::Errors
    }

    /// Only throughput gets worse by falling.
    pub(crate) fn higher_is_worse(self) -> bool {
        self != Figure::Throughput
    }

    /// The default threshold: 10% on latency percentiles, 5% on throughput, 1 pp of error rate,
    /// 0.5 pp of a core, 5 MB, and 0.5 ms / 0.5 pp / 5 MB / 0.5 pp on the overheads against the
    /// baseline mode (half the checklist's latency and CPU budgets, a quarter of its memory
    /// budget).
    pub(crate) fn default_limit(self) -> Limit {
        match self {
            Figure::P50 | Figure::P99 => Limit::Relative(0.10),
            Figure::Throughput => Limit::Relative(0.05),
            Figure::Errors => Limit::Absolute(1.0),
            Figure::Cpu
            | Figure::CpuOverhead
            | Figure::LatencyOverhead
            | Figure::ErrorsOverhead => Limit::Absolute(0.5),
            Figure::Memory | Figure::MemoryOverhead => Limit::Absolute(5.0),
        }
    }
}

/// How far beyond the baseline a figure may move before it counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A fraction of the baseline's point estimate (`10%` is 0.10).
    Relative(f64),
    /// In the figure's unit.
    Absolute(f64),
}

impl Limit {
    pub(crate) fn amount(self, baseline: f64) -> f64 {
        match self {
            Limit::Relative(f) => f * baseline.abs(),
            Limit::Absolute(a) => a,
        }
    }

    pub(crate) fn describe(self, unit: &str) -> String {
        match self {
            Limit::Relative(f) => format!("{}%", round(f * 100.0)),
            Limit::Absolute(a) => format!("{} {unit}", round(a)),
        }
    }
}

/// The threshold of every figure: the defaults, overridden by `--threshold KEY=LIMIT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds(BTreeMap<Figure, Limit>);

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds(
            Figure::ALL
                .iter()
                .map(|&f| (f, f.default_limit()))
                .collect(),
        )
    }
}

impl Thresholds {
    /// The defaults with each `KEY=LIMIT` applied: `p99=10%`, `cpu=0.5pp`, `memory=5MB`,
    /// `latency-overhead=0.2ms`, ... A limit is a percentage of the baseline or a number in the
    /// figure's unit (the unit may be omitted).
    pub fn parse(overrides: &[String]) -> Result<Thresholds, UsageError> {
        let mut thresholds = Thresholds::default();
        for item in overrides {
            let keys = || {
                Figure::ALL
                    .iter()
                    .map(|f| f.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (key, value) = item.split_once('=').ok_or_else(|| {
                UsageError(format!(
                    "--threshold `{item}`: expected KEY=LIMIT, e.g. p99=10% or cpu=0.5pp"
                ))
            })?;
            let figure = Figure::ALL
                .into_iter()
                .find(|f| f.key() == key.trim())
                .ok_or_else(|| {
                    UsageError(format!(
                        "--threshold `{item}`: unknown figure `{key}`; expected one of {}",
                        keys()
                    ))
                })?;
            let limit = parse_limit(value.trim(), figure).ok_or_else(|| {
                UsageError(format!(
                    "--threshold `{item}`: expected a non-negative percentage (10%) or a \
                     number in {} (0.5{})",
                    figure.unit(),
                    figure.unit()
                ))
            })?;
            if figure.is_overhead() && matches!(limit, Limit::Relative(_)) {
                // An overhead sits near 0 in an unchanged run: a share of it is no margin.
                return Err(UsageError(format!(
                    "--threshold `{item}`: an overhead's threshold is absolute (a relative one \
                     on a figure near 0 leaves no margin); give it in {} (0.5{})",
                    figure.unit(),
                    figure.unit()
                )));
            }
            thresholds.0.insert(figure, limit);
        }
        Ok(thresholds)
    }

    pub fn get(&self, figure: Figure) -> Limit {
        self.0
            .get(&figure)
            .copied()
            .unwrap_or(figure.default_limit())
    }
}

fn parse_limit(value: &str, figure: Figure) -> Option<Limit> {
    let (number, relative) = match value.strip_suffix('%') {
        Some(n) => (n, true),
        None => (value.strip_suffix(figure.unit()).unwrap_or(value), false),
    };
    let n: f64 = number.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some(if relative {
        Limit::Relative(n / 100.0)
    } else {
        Limit::Absolute(n)
    })
}

/// A figure as printed: three decimals at most.
pub(crate) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
