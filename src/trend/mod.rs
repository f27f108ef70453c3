//! `tracebench trend`: the overhead of every budget across runs, for release reviews. Runs are put
//! in time order and labelled (a version or commit); each budget's overheads become a series with
//! its intervals and verdicts, and the points where the series shifts are flagged
//! ([`change_points`]). The series are plain data; [`export`] writes them as Markdown, the
//! Bencher Metric Format and a CSV Apache Otava reads, and the charts come from
//! `report::charts::trend`.

pub mod change_points;
pub mod export;

use std::path::PathBuf;

use crate::analysis::{BudgetKind, Estimate, Summary, Verdict};

/// One run of the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// What the run measured: `--label`, the run's own label, else its directory's name.
    pub label: String,
    pub started_unix_ms: i64,
    pub path: PathBuf,
}

/// One budget's overhead in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub overhead: Estimate,
    pub verdict: Verdict,
}

/// One budget of one mode at one rate, across the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub mode: String,
    pub rate: f64,
    pub budget: BudgetKind,
    pub limit: f64,
    /// One per run, in the trend's order; `None` where the run did not judge it.
    pub points: Vec<Option<Point>>,
    /// Indices of the first run after each change point.
    pub changes: Vec<usize>,
}

impl Series {
    /// `on @ 200 rps latency p50`.
    pub fn name(&self) -> String {
        format!(
            "{} @ {} rps {}",
            self.mode,
            crate::report::fmt_rate(self.rate),
            self.budget.label()
        )
    }
}

/// The runs in time order and every budget's series.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub runs: Vec<Run>,
    pub series: Vec<Series>,
}

/// The trend of `runs` (path and summary), in time order; `labels`, when given, name the runs in
/// that order.
pub fn trend(runs: Vec<(PathBuf, Summary)>, labels: &[String]) -> Trend {
    let mut runs = runs;
    runs.sort_by_key(|(_, s)| s.results.started_unix_ms);
    let trend_runs: Vec<Run> = runs
        .iter()
        .enumerate()
        .map(|(i, (path, s))| Run {
            label: labels
                .get(i)
                .cloned()
                .or_else(|| s.results.label.clone())
                .unwrap_or_else(|| run_name(path)),
            started_unix_ms: s.results.started_unix_ms,
            path: path.clone(),
        })
        .collect();
    let mut series: Vec<Series> = Vec::new();
    for (i, (_, summary)) in runs.iter().enumerate() {
        for b in summary
            .analysis
            .budgets
            .iter()
            .filter(|b| b.budget.judged_while_running())
        {
            let at = match series
                .iter()
                .position(|s| s.mode == b.mode && s.rate == b.rate && s.budget == b.budget)
            {
                Some(at) => at,
                None => {
                    series.push(Series {
                        mode: b.mode.clone(),
                        rate: b.rate,
                        budget: b.budget.clone(),
                        limit: b.limit,
                        points: vec![None; runs.len()],
                        changes: Vec::new(),
                    });
                    series.len() - 1
                }
            };
            series[at].points[i] = b.overhead.map(|overhead| Point {
                overhead,
                verdict: b.verdict,
            });
        }
    }
    for s in &mut series {
        s.changes = change_points::find(&s.points);
    }
    Trend {
        runs: trend_runs,
        series,
    }
}

/// A run's name from its path: the run directory's (a summary.json's parent's).
fn run_name(path: &std::path::Path) -> String {
    let dir = if path.is_dir() {
        Some(path)
    } else {
        path.parent()
    };
    dir.and_then(|d| d.file_name()).map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
