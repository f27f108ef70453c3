//! Budget verdicts: each overhead (mode minus baseline at the same rate, paired by round) with its
//! 95% interval against its limit. Pass when the whole interval is within the limit, fail when
//! the whole interval is beyond it, inconclusive when it straddles the limit or there is no
//! interval.
//!
//! Two rules sit above the intervals. The noise floor (the baseline's two cells of each round
//! against each other, judged the same way) gates every budget: when that A/A difference itself
//! reaches beyond the limit, noise alone can be as large as the budget, so no mode passes it and
//! a mode fails it only when its whole interval clears the limit by more than the A/A's reach (a
//! +20 ms overhead is not hidden by a 1.5 ms noise floor); every other verdict on it is
//! inconclusive, saying the run cannot decide it at this size. And a mode whose requests fail cannot pass:
//! any of its cells with errors, drops or unfinished requests beyond the baseline's by more than
//! the errors budget fails it.

use std::collections::BTreeMap;

use super::rounds::{Measure, cell_value, difference, per_round};
use super::stats::wilson;
use super::{
    BudgetKind, BudgetResult, Estimate, Group, GroupSummary, NoiseFloor, Verdict, services, traces,
};
use crate::results::{Budgets, CellResult, RunResults};

/// What the noise floor compares.
const SPLIT: &str = "the baseline's two cells (restarts) of each round";

/// The verdict of an overhead against a limit, and a note when it is inconclusive for lack of
/// data.
fn verdict(overhead: Option<Estimate>, limit: f64) -> (Verdict, Option<String>) {
    match overhead {
        None => (
            Verdict::Inconclusive,
            Some("not measured in both modes".into()),
        ),
        Some(e) if !e.has_interval() => (
            Verdict::Inconclusive,
            Some("one round: no interval between restarts; run 2 or more rounds".into()),
        ),
        Some(e) if e.high <= limit => (Verdict::Pass, None),
        Some(e) if e.low > limit => (Verdict::Fail, None),
        Some(_) => (Verdict::Inconclusive, None),
    }
}

/// The verdict of an A/A difference: it has no direction, so it passes only when the whole
/// interval lies within +-limit and fails when it lies wholly outside.
fn aa_verdict(e: &Estimate, limit: f64) -> Verdict {
    if !e.has_interval() {
        Verdict::Inconclusive
    } else if -limit <= e.low && e.high <= limit {
        Verdict::Pass
    } else if e.low > limit || e.high < -limit {
        Verdict::Fail
    } else {
        Verdict::Inconclusive
    }
}

/// The budgets the scenario sets, for a group's services: kind, limit and the measure behind it.
fn budget_list<'a>(
    results: &'a RunResults,
    services: &[&'a str],
) -> Vec<(BudgetKind, f64, Measure<'a>)> {
    let b = &results.budgets;
    let mut out = Vec::new();
    for (percentile, &limit) in &b.latency_ms {
        let kind = BudgetKind::Latency {
            percentile: percentile.clone(),
        };
        out.push((kind, limit, Measure::Latency(percentile)));
    }
    if let Some(limit) = b.errors_pp {
        out.push((BudgetKind::Errors, limit, Measure::ErrorPct));
    }
    for &service in services {
        if let Some(limit) = b.cpu_pp {
            let kind = BudgetKind::Cpu {
                service: service.to_string(),
            };
            out.push((kind, limit, Measure::Cpu(service)));
        }
    }
    for &service in services {
        if let Some(limit) = b.memory_mb {
            let kind = BudgetKind::Memory {
                service: service.to_string(),
            };
            out.push((kind, limit, Measure::Memory(service)));
        }
    }
    out
}

/// The budgets of every group, and the noise floor of every baseline group.
pub(super) fn judge(
    results: &RunResults,
    groups: &[Group],
    summaries: &[GroupSummary],
    warnings: &mut Vec<String>,
) -> (Vec<BudgetResult>, Vec<NoiseFloor>) {
    let budgets = &results.budgets;
    warn_unknown_statistics(budgets, warnings);
    let noise: Vec<NoiseFloor> = groups
        .iter()
        .filter(|g| g.mode == results.baseline)
        .flat_map(|g| noise_floor(results, g))
        .collect();
    for g in groups.iter().filter(|g| g.mode == results.baseline) {
        if !g.cells.iter().any(|c| c.replicate == 1) {
            warnings.push(format!(
                "the baseline ({}) at {} rps has no second cell in any round: no A/A noise \
                 floor, so no budget there is checked against it",
                g.mode, g.rate
            ));
        }
    }
    let mut out = Vec::new();
    for (g, summary) in groups.iter().zip(summaries) {
        out.extend(trace_budgets(budgets, g, summary));
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
        for (budget, limit, measure) in budget_list(results, &services(&g.cells)) {
            let overhead = base.and_then(|b| {
                difference(
                    &per_round(&g.cells, measure, None),
                    &per_round(&b.cells, measure, None),
                )
            });
            let floor = noise
                .iter()
                .find(|n| n.rate == g.rate && n.budget == budget);
            let (verdict, note) = decide(g, base, &budget, limit, overhead, floor);
            let in_expected_range = match (&budget, budgets.memory_expected_mb, overhead) {
                (BudgetKind::Memory { .. }, Some((lo, hi)), Some(e)) => {
                    Some((lo..=hi).contains(&e.value))
                }
                _ => None,
            };
            out.push(BudgetResult {
                mode: g.mode.to_string(),
                rate: g.rate,
                budget,
                limit,
                overhead,
                verdict,
                in_expected_range,
                traces: None,
                note,
            });
        }
    }
    (out, noise)
}

/// A latency budget on a statistic the analysis does not compute is never judged: say so.
fn warn_unknown_statistics(budgets: &Budgets, warnings: &mut Vec<String>) {
    for percentile in budgets.latency_ms.keys() {
        if !super::LATENCY_STATS.contains(&percentile.as_str()) {
            warnings.push(format!(
                "latency budget `{percentile}`: unknown statistic (expected one of {}), so it is \
                 never judged",
                super::LATENCY_STATS.join(", ")
            ));
        }
    }
}

/// The trace budgets of one group: volume against the sampling ratio, and completeness.
fn trace_budgets(budgets: &Budgets, g: &Group, summary: &GroupSummary) -> Vec<BudgetResult> {
    let mut out = Vec::new();
    if let Some(tolerance) = budgets.trace_volume_tolerance {
        if summary.traces.is_empty() {
            out.push(traces::not_counted(g.mode, g.rate, tolerance));
        }
        for t in &summary.traces {
            out.push(traces::check(g.mode, g.rate, t, tolerance));
        }
    }
    if let Some(limit) = budgets.incomplete_traces_pct {
        out.extend(
            summary
                .traces
                .iter()
                .filter_map(|t| traces::check_complete(g.mode, g.rate, t, limit)),
        );
    }
    out
}

/// The verdict on one overhead against its limit, and why when it is not plain: failing
/// requests fail whatever the noise; a pass needs an A/A noise floor when the pair was measured;
/// a noise floor reaching past the limit makes a pass inconclusive, and a fail stand only when
/// the overhead clears the limit by more than that noise.
fn decide(
    g: &Group,
    base: Option<&Group>,
    budget: &BudgetKind,
    limit: f64,
    overhead: Option<Estimate>,
    floor: Option<&NoiseFloor>,
) -> (Verdict, Option<String>) {
    let (verdict, note) = verdict(overhead, limit);
    let failing = match (budget, base) {
        (BudgetKind::Errors, Some(b)) => failing_cell(&g.cells, &b.cells, limit),
        _ => None,
    };
    if let Some(failing) = failing {
        // Requests that fail are a fact, not an estimate: no noise floor excuses them.
        return (Verdict::Fail, Some(failing));
    }
    if verdict == Verdict::Pass
        && floor.is_none_or(|n| !n.estimate.has_interval())
        && base.is_some_and(|b| b.cells.iter().any(|c| c.replicate == 1))
    {
        // The A/A pair exists but in fewer than 2 rounds (a run cut short): no noise floor to
        // check the pass against.
        let why = "the baseline's A/A pair was measured in fewer than 2 rounds: no noise floor \
                   to check this pass against";
        return (Verdict::Inconclusive, Some(why.into()));
    }
    let Some(n) = floor.filter(|n| n.estimate.has_interval() && n.verdict != Verdict::Pass) else {
        return (verdict, note);
    };
    // Noise alone reaches past the limit: no pass can be claimed, and a fail only when the
    // overhead clears the limit by more than that noise.
    let reach = n.estimate.low.abs().max(n.estimate.high.abs());
    let clear = overhead.is_some_and(|e| e.low - reach > limit);
    let aa = format!(
        "the baseline against itself measured {:+.3} [{:+.3}, {:+.3}] {}",
        n.estimate.value,
        n.estimate.low,
        n.estimate.high,
        budget.unit()
    );
    if verdict == Verdict::Fail && clear {
        let why = format!("{aa}; the overhead exceeds the limit by more than that");
        (Verdict::Fail, Some(why))
    } else {
        let why = format!(
            "{aa}, reaching beyond the limit of {limit} {}: this run cannot decide it at this \
             size (more rounds or a quieter machine)",
            budget.unit()
        );
        (Verdict::Inconclusive, Some(why))
    }
}

/// The first cell of a mode whose error share clearly exceeds the baseline's mean by more than
/// `limit` percentage points (the lower end of its 95% Wilson interval does), described; `None`
/// when there is none. The Wilson bound keeps one stray timeout among 800 requests (0.125%) from
/// failing a mode, while 5% or 100% of requests failing always does.
fn failing_cell(mode: &[&CellResult], baseline: &[&CellResult], limit: f64) -> Option<String> {
    let base: Vec<f64> = baseline
        .iter()
        .filter_map(|c| cell_value(c, Measure::ErrorPct))
        .collect();
    let base_pct = if base.is_empty() {
        0.0
    } else {
        base.iter().sum::<f64>() / base.len() as f64
    };
    let clearly_beyond = |c: &CellResult| {
        c.load.due > 0
            && wilson(c.failed_requests().min(c.load.due), c.load.due).low * 100.0 - base_pct
                > limit
    };
    let c = mode.iter().find(|c| clearly_beyond(c))?;
    let mut kinds: Vec<String> = c
        .load
        .error_kinds
        .iter()
        .map(|(kind, n)| format!("{n} x {kind}"))
        .collect();
    if c.load.dropped > 0 {
        kinds.push(format!("{} dropped at the in-flight cap", c.load.dropped));
    }
    let unexpected = c.load.errors - c.load.error_kinds.values().sum::<u64>().min(c.load.errors);
    if unexpected > 0 {
        kinds.push(format!("{unexpected} unexpected statuses"));
    }
    Some(format!(
        "round {}: {:.1}% of {} requests due failed, timed out or were dropped (baseline \
         {base_pct:.2}%): {}",
        c.round + 1,
        c.error_pct(),
        c.load.due,
        kinds.join(", ")
    ))
}

/// The baseline group's two cells of each round against each other, per budget.
fn noise_floor(results: &RunResults, g: &Group) -> Vec<NoiseFloor> {
    let mut out = Vec::new();
    for (budget, limit, measure) in budget_list(results, &services(&g.cells)) {
        let first: BTreeMap<u32, f64> = per_round(&g.cells, measure, Some(0));
        let second: BTreeMap<u32, f64> = per_round(&g.cells, measure, Some(1));
        if let Some(estimate) = difference(&first, &second) {
            out.push(NoiseFloor {
                rate: g.rate,
                budget,
                verdict: aa_verdict(&estimate, limit),
                estimate,
                split: SPLIT.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_a_a_interval_passes_only_within_plus_or_minus_the_limit() {
        let e = |low, high| Estimate {
            se: Some(0.1),
            df: Some(5.0),
            ..Estimate::new(0.0, low, high)
        };
        assert_eq!(aa_verdict(&e(-0.5, 0.5), 1.0), Verdict::Pass);
        assert_eq!(aa_verdict(&e(-1.5, 0.5), 1.0), Verdict::Inconclusive);
        assert_eq!(aa_verdict(&e(-3.0, -1.5), 1.0), Verdict::Fail);
        assert_eq!(
            aa_verdict(&Estimate::point(0.0), 1.0),
            Verdict::Inconclusive
        );
        assert_eq!(verdict(Some(e(-3.0, -1.5)), 1.0).0, Verdict::Pass);
        assert_eq!(
            verdict(Some(Estimate::point(0.0)), 1.0).0,
            Verdict::Inconclusive
        );
    }
}
