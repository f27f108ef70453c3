//! Budget verdicts: each overhead (mode minus baseline at the same rate) with its 95% interval
//! against its limit, and the noise floor (the baseline's halves against each other, judged the
//! same way). Pass when the whole interval is within the limit, fail when the whole interval is
//! beyond it, inconclusive when it straddles the limit or there is no interval.

use rand::rngs::StdRng;

use super::latency::{LatencySample, Stats, THROUGHPUT, stat_index};
use super::resources::{self, CellSeries, Figure};
use super::stats::percentile_interval;
use super::{
    BudgetKind, BudgetResult, Estimate, Group, GroupSummary, NoiseFloor, RESAMPLES, Verdict,
    services, traces,
};
use crate::results::RunResults;

/// An overhead and whether it has a real interval; `None` when it could not be measured.
type Overhead = Option<(Estimate, bool)>;

/// The verdict of an overhead against a limit, and a note when it is inconclusive for lack of
/// data.
fn verdict(overhead: Overhead, limit: f64) -> (Verdict, Option<String>) {
    match overhead {
        None => (
            Verdict::Inconclusive,
            Some("not measured in both modes".into()),
        ),
        Some((_, false)) => (
            Verdict::Inconclusive,
            Some("too few samples for an interval".into()),
        ),
        Some((e, true)) if e.high <= limit => (Verdict::Pass, None),
        Some((e, true)) if e.low > limit => (Verdict::Fail, None),
        Some(_) => (Verdict::Inconclusive, None),
    }
}

/// Statistic `index` of `a` minus that of `b`, with the percentile interval of the paired
/// differences of their (independent) bootstrap replicates.
fn latency_difference(a: (&Stats, &[Stats]), b: (&Stats, &[Stats]), index: usize) -> Overhead {
    let point = a.0[index] - b.0[index];
    if a.1.is_empty() || b.1.is_empty() {
        let e = Estimate {
            value: point,
            low: point,
            high: point,
        };
        return Some((e, false));
    }
    let mut diffs: Vec<f64> =
        a.1.iter()
            .zip(b.1)
            .map(|(x, y)| x[index] - y[index])
            .collect();
    Some((percentile_interval(point, &mut diffs), true))
}

/// The budgets of every group, then the noise floor of every baseline group.
pub(super) fn judge(
    results: &RunResults,
    groups: &[Group],
    summaries: &[GroupSummary],
    rng: &mut StdRng,
    warnings: &mut Vec<String>,
) -> (Vec<BudgetResult>, Vec<NoiseFloor>) {
    let budgets = &results.budgets;
    for percentile in budgets.latency_ms.keys() {
        if !matches!(stat_index(percentile), Some(i) if i < THROUGHPUT) {
            warnings.push(format!(
                "latency budget `{percentile}`: unknown percentile (expected p50, p90, p99, \
                 p999 or mean), so it is never judged"
            ));
        }
    }
    let mut out = Vec::new();
    for (g, summary) in groups.iter().zip(summaries) {
        if let Some(tolerance) = budgets.trace_volume_tolerance {
            if summary.traces.is_empty() {
                out.push(traces::not_counted(g.mode, g.rate, tolerance));
            }
            for t in &summary.traces {
                out.push(traces::check(g.mode, g.rate, t, tolerance));
            }
        }
        if g.mode == results.baseline {
            continue;
        }
        let base = groups
            .iter()
            .find(|b| b.mode == results.baseline && b.rate == g.rate);
        if base.is_none() {
            warnings.push(format!(
                "no baseline ({}) cells at {} rps: {} cannot be judged there",
                results.baseline, g.rate, g.mode
            ));
        }
        let mut push = |budget: BudgetKind, limit: f64, overhead: Overhead| {
            let (verdict, note) = verdict(overhead, limit);
            let in_expected_range = match (&budget, budgets.memory_expected_mb, overhead) {
                (BudgetKind::Memory { .. }, Some((lo, hi)), Some((e, _))) => {
                    Some((lo..=hi).contains(&e.value))
                }
                _ => None,
            };
            out.push(BudgetResult {
                mode: g.mode.to_string(),
                rate: g.rate,
                budget,
                limit,
                overhead: overhead.map(|(e, _)| e),
                verdict,
                in_expected_range,
                traces: None,
                note,
            });
        };
        for (percentile, &limit) in &budgets.latency_ms {
            let overhead = match (base, stat_index(percentile)) {
                (Some(b), Some(i)) if i < THROUGHPUT => {
                    latency_difference((&g.point, &g.replicates), (&b.point, &b.replicates), i)
                }
                _ => None,
            };
            let budget = BudgetKind::Latency {
                percentile: percentile.clone(),
            };
            push(budget, limit, overhead);
        }
        for (figure, limit) in resource_budgets(results) {
            for service in services(&g.cells) {
                let overhead = base.and_then(|b| {
                    let mode = resources::series(&g.cells, service, figure);
                    let baseline = resources::series(&b.cells, service, figure);
                    resources::difference(rng, RESAMPLES, &mode, &baseline)
                });
                push(resource_kind(figure, service), limit, overhead);
            }
        }
    }
    let noise = groups
        .iter()
        .filter(|g| g.mode == results.baseline)
        .flat_map(|g| noise_floor(results, g, rng))
        .collect();
    (out, noise)
}

/// The CPU and memory budgets the scenario sets.
fn resource_budgets(results: &RunResults) -> Vec<(Figure, f64)> {
    let b = &results.budgets;
    let cpu = b.cpu_pp.map(|l| (Figure::Cpu, l));
    let memory = b.memory_mb.map(|l| (Figure::Memory, l));
    cpu.into_iter().chain(memory).collect()
}

fn resource_kind(figure: Figure, service: &str) -> BudgetKind {
    let service = service.to_string();
    match figure {
        Figure::Cpu => BudgetKind::Cpu { service },
        Figure::Memory => BudgetKind::Memory { service },
    }
}

/// The baseline group's halves against each other, per latency, CPU and memory budget.
fn noise_floor(results: &RunResults, g: &Group, rng: &mut StdRng) -> Vec<NoiseFloor> {
    let mut out = Vec::new();
    let mut push = |budget: BudgetKind, limit: f64, overhead: Overhead, split: &str| {
        if let Some((estimate, _)) = overhead {
            out.push(NoiseFloor {
                rate: g.rate,
                budget,
                estimate,
                verdict: verdict(overhead, limit).0,
                split: split.to_string(),
            });
        }
    };
    let halves = [0, 1].map(|parity| {
        let half = LatencySample::new(&g.cells, |s| s % 2 == parity);
        let replicates = if half.seconds() >= 2 {
            half.bootstrap(rng, RESAMPLES)
        } else {
            vec![]
        };
        (half.point().0, replicates)
    });
    for (percentile, &limit) in &results.budgets.latency_ms {
        let i = match stat_index(percentile) {
            Some(i) if i < THROUGHPUT => i,
            _ => continue,
        };
        let overhead = latency_difference(
            (&halves[0].0, &halves[0].1),
            (&halves[1].0, &halves[1].1),
            i,
        );
        let budget = BudgetKind::Latency {
            percentile: percentile.clone(),
        };
        push(
            budget,
            limit,
            overhead,
            "even against odd seconds of every round",
        );
    }
    for (figure, limit) in resource_budgets(results) {
        for service in services(&g.cells) {
            let series: Vec<CellSeries> = resources::series(&g.cells, service, figure);
            let (a, b) = resources::split_halves(&series);
            let overhead = resources::difference(rng, RESAMPLES, &a, &b);
            let split = "alternate 5 s blocks of every round";
            push(resource_kind(figure, service), limit, overhead, split);
        }
    }
    out
}
