//! Candidate builds against the base, measured in the same run: the check that does not depend
//! on the day. Both variants' cells share the rounds (and the machine's state in each), so
//! their difference comes from the same crossover fit as the overheads, with rounds, positions,
//! carry-over and the machine's speed as terms; drift between runs, which `compare` must
//! estimate from several runs, does not enter it.
//!
//! Per candidate, mode, rate and budget: the difference of the absolute figure (candidate's mode
//! minus base's same mode) and, for a mode other than the baseline, of the overhead (each
//! variant's mode minus its own baseline). Each gets a 95% interval at the run's last look and
//! regresses when the whole interval lies beyond its threshold (`compare`'s keys and defaults,
//! overridden by `run --threshold`; a relative threshold is a share of the base's figure). The
//! error rate compares pooled counts per round.

use super::crossover::Effect;
use super::rounds::{Measure, level};
use super::thresholds::{Figure, Thresholds};
use super::{BudgetKind, Group, VariantRow, budgets::interval, errors};
use crate::results::{CellResult, RunResults, split_mode};

/// How [`VariantRow`]s are estimated, for the report.
pub const METHOD: &str = "each candidate and the base are measured in the same rounds, \
    interleaved; a difference (candidate minus base, of a mode's absolute figure or of its \
    overhead against its own variant's baseline) comes from the same crossover fit as the \
    overheads, with a 95% interval at the run's last look; it is a regression when the whole \
    interval lies beyond the threshold";

/// The run's thresholds: `compare`'s defaults with the run's `--threshold` overrides (checked
/// when the run started; an unreadable one is reported and the default kept).
pub(super) fn thresholds(results: &RunResults, warnings: &mut Vec<String>) -> Thresholds {
    Thresholds::parse(&results.thresholds).unwrap_or_else(|e| {
        warnings.push(format!("{e}: the default thresholds hold"));
        Thresholds::default()
    })
}

/// One budget's measure at one rate, with what the rows need.
pub(super) struct Ctx<'a, 'g> {
    pub results: &'a RunResults,
    pub at_rate: &'a [&'a Group<'g>],
    pub budget: &'a BudgetKind,
    pub measure: Measure<'a>,
    pub thresholds: &'a Thresholds,
    /// The rounds the last look saw.
    pub look: u32,
}

/// The rows of one budget at one rate: every candidate against the base, mode by mode.
/// `difference(candidate_mode, base_mode, overhead)` is the fit's contrast.
pub(super) fn rows(
    ctx: &Ctx,
    difference: impl Fn(&str, &str, bool) -> Option<Effect>,
) -> Vec<VariantRow> {
    let Some((base, candidates)) = ctx.results.variants.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for base_group in ctx
        .at_rate
        .iter()
        .filter(|g| split_mode(g.mode).0 == Some(base))
    {
        let (_, plain) = split_mode(base_group.mode);
        for candidate in candidates {
            let mode = format!("{candidate}/{plain}");
            let Some(group) = ctx.at_rate.iter().find(|g| g.mode == mode) else {
                continue;
            };
            for overhead in [false, true] {
                if overhead && ctx.results.is_baseline(&mode) {
                    continue;
                }
                let Some(figure) = figure(ctx.budget, overhead) else {
                    continue;
                };
                let effect = if *ctx.budget == BudgetKind::Errors {
                    // Pooled counts have no overhead contrast: the absolute rate only.
                    if overhead {
                        continue;
                    }
                    errors::overhead(&group.cells, &base_group.cells, ctx.look)
                } else {
                    difference(&mode, base_group.mode, overhead)
                };
                let seen: Vec<&CellResult> = base_group
                    .cells
                    .iter()
                    .copied()
                    .filter(|c| c.round < ctx.look)
                    .collect();
                let base_value = level(&seen, ctx.measure).map(|e| e.value);
                let limit = ctx.thresholds.get(figure);
                let threshold = limit.amount(base_value.unwrap_or(0.0));
                let difference = effect.and_then(|e| interval(e, 0.975));
                out.push(VariantRow {
                    candidate: candidate.clone(),
                    mode: plain.to_string(),
                    rate: base_group.rate,
                    budget: ctx.budget.clone(),
                    overhead,
                    base_value,
                    regression: difference.is_some_and(|d| d.low > threshold),
                    difference,
                    threshold,
                    threshold_key: figure.key().to_string(),
                });
            }
        }
    }
    out
}

/// The `--threshold` figure a budget's difference is held to: an absolute latency other than
/// p50 takes p99's (a tail), every overhead its overhead key.
fn figure(budget: &BudgetKind, overhead: bool) -> Option<Figure> {
    Some(match (budget, overhead) {
        (BudgetKind::Latency { .. }, true) => Figure::LatencyOverhead,
        (BudgetKind::Latency { percentile }, false) if percentile == "p50" => Figure::P50,
        (BudgetKind::Latency { .. }, false) => Figure::P99,
        (BudgetKind::Cpu { .. }, true) => Figure::CpuOverhead,
        (BudgetKind::Cpu { .. }, false) => Figure::Cpu,
        (BudgetKind::Memory { .. }, true) => Figure::MemoryOverhead,
        (BudgetKind::Memory { .. }, false) => Figure::Memory,
        (BudgetKind::Errors, true) => Figure::ErrorsOverhead,
        (BudgetKind::Errors, false) => Figure::Errors,
        (BudgetKind::TraceVolume { .. } | BudgetKind::Completeness { .. }, _) => return None,
    })
}
