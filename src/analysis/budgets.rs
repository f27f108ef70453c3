//! Budget verdicts: each overhead (mode minus baseline at the same rate) against its limit, judged
//! sequentially at every look of the run (see [`super::sequential`]): pass once the overhead is
//! below the limit by more than the look's boundary in standard errors, fail once it is above it
//! by as much, inconclusive while neither holds. The first look that decides a budget decides
//! it; its estimate and interval (overhead +- boundary x standard error) are the ones reported.
//!
//! Latency, CPU and memory come from the crossover model ([`super::crossover`]): unbiased under
//! first-order carry-over, with the carry-over reported. Errors are compared on pooled counts
//! ([`super::errors`]). The baseline's A/A pair is a diagnostic: an A/A whose own 99% interval
//! excludes 0 (the machine or the method is not steady) is taken as a bias as large as its
//! farthest bound, and a pass must hold with it added, or is blocked with the reason; and
//! a mode with a cell whose requests clearly fail fails at once.

use super::crossover::{Effect, Fit, Model, Obs};
use super::errors;
use super::rounds::{Measure, cell_value};
use super::sequential::t_boundary;
use super::stats::{between_run_variance, t_quantile};
use super::{
    BudgetKind, BudgetResult, Decision, Estimate, Group, GroupSummary, NoiseFloor, VariantRow,
    Verdict, services, traces, variants,
};
use crate::results::{Budgets, CellResult, Design, RunResults};

/// What the noise floor compares.
const SPLIT: &str = "the baseline's two cells (restarts) of each round, in the crossover model";
/// The A/A's interval: 99%, so that chance alone blocks a budget's pass in 1 run of 100.
const AA_LEVEL: f64 = 0.99;

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

/// The looks the results allow: the design's looks up to the rounds measured, and the rounds
/// measured as a last look when they passed the last planned one (a run cut short mid-square,
/// or written before runs were sequential); with their information fractions.
fn looks(results: &RunResults) -> (Vec<u32>, Vec<f64>) {
    let measured = results.cells.iter().map(|c| c.round + 1).max().unwrap_or(0);
    let design = results.design.unwrap_or(Design::fixed(measured));
    let mut looks: Vec<u32> = design
        .looks()
        .into_iter()
        .filter(|&l| l <= measured)
        .collect();
    if looks.last().is_none_or(|&l| l < measured) {
        looks.push(measured);
    }
    let max = f64::from(design.max_rounds.max(measured).max(1));
    let fractions = looks.iter().map(|&l| f64::from(l) / max).collect();
    (looks, fractions)
}

/// The treatments at one rate, every cell of it in one model: the first baseline's first cells
/// (0, the reference), every other baseline's first cells, every other mode, then each
/// baseline's A/A cells; and carry-over classes by mode (any baseline 0). With variants, one
/// baseline per variant, so the variants' figures share the rounds, positions and speed terms
/// and their differences come from the same fit.
struct Layout<'a> {
    treatments: Vec<(&'a str, u32)>,
    modes: Vec<&'a str>,
}

impl<'a> Layout<'a> {
    fn new(results: &RunResults, at_rate: &[&Group<'a>]) -> Layout<'a> {
        let (bases, modes): (Vec<&str>, Vec<&str>) = at_rate
            .iter()
            .map(|g| g.mode)
            .partition(|m| results.is_baseline(m));
        let treatments = bases
            .iter()
            .map(|&b| (b, 0))
            .chain(modes.iter().map(|&m| (m, 0)))
            .chain(bases.iter().map(|&b| (b, 1)))
            .collect();
        Layout { treatments, modes }
    }

    fn treatments(&self) -> usize {
        self.treatments.len()
    }

    fn classes(&self) -> usize {
        self.modes.len() + 1
    }

    /// The treatment of a mode's cells (replicate 0) or of a baseline's A/A cells (1).
    fn treatment(&self, mode: &str, replicate: u32) -> Option<usize> {
        self.treatments
            .iter()
            .position(|&(m, r)| m == mode && r == replicate.min(1))
    }

    fn class(&self, mode: &str) -> usize {
        self.modes
            .iter()
            .position(|&m| m == mode)
            .map_or(0, |i| i + 1)
    }

    /// A baseline's second cells against its first: its A/A.
    fn aa(&self, base: &str) -> Vec<(usize, f64)> {
        let (Some(first), Some(second)) = (self.treatment(base, 0), self.treatment(base, 1)) else {
            return Vec::new();
        };
        vec![(second, 1.0), (first, -1.0)]
    }

    /// A mode's figure less its baseline's: the mean of the baseline's two cells a round when it
    /// has A/A cells, else its first.
    fn overhead(&self, mode: &str, base: &str, has_aa: bool) -> Vec<(usize, f64)> {
        let (Some(t), Some(first)) = (self.treatment(mode, 0), self.treatment(base, 0)) else {
            return Vec::new();
        };
        match self.treatment(base, 1).filter(|_| has_aa) {
            Some(second) => vec![(t, 1.0), (first, -0.5), (second, -0.5)],
            None => vec![(t, 1.0), (first, -1.0)],
        }
    }
}

/// The contrast `weights` of a fit; `None` for an empty one (a treatment not in the layout).
fn contrast(fit: Option<&Fit>, weights: &[(usize, f64)]) -> Option<Effect> {
    if weights.is_empty() {
        return None;
    }
    fit?.contrast(weights)
}

/// The budgets of every group, the noise floor of every baseline group, and, in a run of
/// variants, every candidate against the base.
pub(super) fn judge(
    results: &RunResults,
    groups: &[Group],
    summaries: &[GroupSummary],
    warnings: &mut Vec<String>,
) -> (Vec<BudgetResult>, Vec<NoiseFloor>, Vec<VariantRow>) {
    warn_unknown_statistics(&results.budgets, warnings);
    let (looks, fractions) = looks(results);
    // A finished run's last look is its final analysis, whenever it came: it spends what is
    // left of each side's error (Lan and DeMets). A stop at `max_duration` is set by the clock,
    // not by the estimates, so the error at the limit holds; without it a run the time cap ends
    // after 8 of 32 planned rounds would judge at the first look's strict boundary and leave
    // most of its error, and its power, unspent. A run that stopped because every budget was
    // decided has nothing left to decide there.
    let finished = results.finished_unix_ms.is_some();
    if results.history.len() < HISTORY_RUNS {
        warnings.push(format!(
            "{} earlier run(s) of this scenario on this machine ({HISTORY_RUNS} needed to \
             estimate the variation between runs): the verdicts hold for this run's conditions \
             only",
            results.history.len()
        ));
    }
    let thresholds = variants::thresholds(results, warnings);
    let mut out = Vec::new();
    let mut noise = Vec::new();
    let mut compared = Vec::new();
    for (g, summary) in groups.iter().zip(summaries) {
        out.extend(trace_budgets(&results.budgets, g, summary));
    }
    let mut rates: Vec<f64> = Vec::new();
    for g in groups.iter().filter(|g| results.is_baseline(g.mode)) {
        if !rates.contains(&g.rate) {
            rates.push(g.rate);
        }
    }
    for rate in rates {
        let at_rate: Vec<&Group> = groups.iter().filter(|g| g.rate == rate).collect();
        let bases: Vec<&Group> = at_rate
            .iter()
            .copied()
            .filter(|g| results.is_baseline(g.mode))
            .collect();
        let layout = Layout::new(results, &at_rate);
        let cells: Vec<&CellResult> = at_rate.iter().flat_map(|g| g.cells.clone()).collect();
        let has_aa = |base: &Group| base.cells.iter().any(|c| c.replicate == 1);
        for base in bases.iter().filter(|b| !has_aa(b)) {
            warnings.push(format!(
                "the baseline ({}) at {} rps has no second cell in any round: no A/A \
                 diagnostic there",
                base.mode, base.rate
            ));
        }
        // A mode's overhead contrast against its own baseline.
        let overhead_of = |mode: &str| -> Vec<(usize, f64)> {
            let base = results.baseline_of(mode);
            let aa = at_rate.iter().any(|g| g.mode == base && has_aa(g));
            layout.overhead(mode, &base, aa)
        };
        let placed = placed(results, &layout, &cells);
        check_speed(&placed, &layout, &overhead_of, rate, warnings);
        // Per look, the models built so far: measures taken in the same cells share one.
        let mut models: Vec<Vec<Model>> = vec![Vec::new(); looks.len()];
        for (budget, limit, measure) in budget_list(results, &services(&cells)) {
            let fits: Vec<Option<Fit>> = if budget == BudgetKind::Errors {
                Vec::new()
            } else {
                let obs = observations(&placed, measure);
                let seen: Vec<Vec<Obs>> = looks
                    .iter()
                    .map(|&look| obs.iter().copied().filter(|o| o.round < look).collect())
                    .collect();
                for (at_look, seen) in models.iter_mut().zip(&seen) {
                    if !at_look.iter().any(|m| m.holds(seen))
                        && let Some(m) = Model::new(seen, layout.treatments(), layout.classes())
                    {
                        at_look.push(m);
                    }
                }
                models
                    .iter()
                    .zip(&seen)
                    .map(|(at_look, seen)| {
                        let m = at_look.iter().find(|m| m.holds(seen))?;
                        Some(m.fit(seen.iter().map(|o| o.y)))
                    })
                    .collect()
            };
            let fit_at = |k: usize| fits.get(k).and_then(Option::as_ref);
            if let Some(f) = fits.last().and_then(Option::as_ref)
                && !f.carry_over_estimable()
                && !layout.modes.is_empty()
            {
                let warning = format!(
                    "at {rate} rps the order of the cells does not make carry-over estimable (a \
                     run cut short, or fewer rounds than a square): overheads there may carry \
                     the effect of the cell before"
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
            for base in &bases {
                let (first, second): (Vec<&CellResult>, Vec<&CellResult>) =
                    base.cells.iter().partition(|c| c.replicate == 0);
                let aa_at = |k: usize| -> Option<Effect> {
                    if budget == BudgetKind::Errors {
                        return errors::overhead(&second, &first, looks[k]);
                    }
                    contrast(fit_at(k), &layout.aa(base.mode))
                };
                if let Some(e) = looks.len().checked_sub(1).and_then(aa_at) {
                    noise.push(noise_floor(base.mode, rate, &budget, e));
                }
                for g in at_rate
                    .iter()
                    .filter(|g| !results.is_baseline(g.mode))
                    .filter(|g| results.baseline_of(g.mode) == base.mode)
                {
                    let weights = overhead_of(g.mode);
                    if weights.is_empty() {
                        continue;
                    }
                    let between = between_runs(results, g.mode, g.rate, &budget);
                    let estimate_at = |k: usize| -> Option<Effect> {
                        let e = if budget == BudgetKind::Errors {
                            errors::overhead(&g.cells, &base.cells, looks[k])
                        } else {
                            contrast(fit_at(k), &weights)
                        }?;
                        // Widened by the variance between runs, where earlier runs measured it.
                        let tau2 = between.map_or(0.0, |(tau2, _)| tau2);
                        Some(Effect {
                            se: e.se.map(|se| (se * se + tau2).sqrt()),
                            ..e
                        })
                    };
                    let mut result =
                        sequential((&looks, &fractions, finished), limit, estimate_at, aa_at);
                    if let Some((tau2, runs)) = between.filter(|(tau2, _)| *tau2 > 0.0) {
                        let widened = format!(
                            "widened by the variation between {runs} earlier runs (sd {:.3} {})",
                            tau2.sqrt(),
                            budget.unit()
                        );
                        result.note = Some(match result.note {
                            Some(n) => format!("{widened}; {n}"),
                            None => widened,
                        });
                    }
                    if budget == BudgetKind::Errors {
                        if let Some(why) = errors::failing_cell(&g.cells, &base.cells) {
                            // Requests that fail outright are a fact, not an estimate.
                            result.verdict = Verdict::Fail;
                            result.note = Some(why);
                        } else if result.verdict == Verdict::Fail {
                            result.note = Some(errors::describe(&g.cells));
                        }
                    }
                    let carry_over = fits
                        .last()
                        .and_then(|f| f.as_ref()?.carry_over(layout.class(g.mode)))
                        .and_then(|e| interval(e, 0.975));
                    if let Some(c) = carry_over
                        .filter(|c| (c.low > 0.0 || c.high < 0.0) && c.value.abs() > limit / 2.0)
                    {
                        warnings.push(format!(
                            "{} at {} rps, {}: the cell after it moves by {:+.3} [{:+.3}, \
                             {:+.3}] {}, more than half the limit: the estimate accounts for \
                             it, but the services may not be done (exporting, shutting down) \
                             when the next cell starts; consider a longer load.settle",
                            g.mode,
                            g.rate,
                            budget.label(),
                            c.value,
                            c.low,
                            c.high,
                            budget.unit()
                        ));
                    }
                    let in_expected_range = match (&budget, results.budgets.memory_expected_mb) {
                        (BudgetKind::Memory { .. }, Some((lo, hi))) => {
                            result.overhead.map(|e| (lo..=hi).contains(&e.value))
                        }
                        _ => None,
                    };
                    out.push(BudgetResult {
                        mode: g.mode.to_string(),
                        rate: g.rate,
                        budget: budget.clone(),
                        limit,
                        overhead: result.overhead,
                        verdict: result.verdict,
                        in_expected_range,
                        traces: None,
                        note: result.note,
                        decision: result.decision,
                        carry_over,
                    });
                }
            }
            if !results.variants.is_empty() {
                let last = looks.len().saturating_sub(1);
                let ctx = variants::Ctx {
                    results,
                    at_rate: &at_rate,
                    budget: &budget,
                    measure,
                    thresholds: &thresholds,
                    look: looks.get(last).copied().unwrap_or(0),
                };
                compared.extend(variants::rows(&ctx, |mode, base, overhead| {
                    let weights = if overhead {
                        let mut w = overhead_of(mode);
                        w.extend(overhead_of(base).into_iter().map(|(t, x)| (t, -x)));
                        w
                    } else {
                        match (layout.treatment(mode, 0), layout.treatment(base, 0)) {
                            (Some(a), Some(b)) => vec![(a, 1.0), (b, -1.0)],
                            _ => Vec::new(),
                        }
                    };
                    contrast(fit_at(last), &weights)
                }));
            }
        }
    }
    for g in groups.iter().filter(|g| !results.is_baseline(g.mode)) {
        let baseline = results.baseline_of(g.mode);
        if !groups
            .iter()
            .any(|b| b.mode == baseline && b.rate == g.rate)
        {
            warnings.push(format!(
                "no baseline ({baseline}) cells at {} rps: {} cannot be judged there",
                g.rate, g.mode
            ));
            for (budget, limit, _) in budget_list(results, &services(&g.cells)) {
                out.push(BudgetResult {
                    mode: g.mode.to_string(),
                    rate: g.rate,
                    budget,
                    limit,
                    overhead: None,
                    verdict: Verdict::Inconclusive,
                    in_expected_range: None,
                    traces: None,
                    note: Some("not measured in both modes".into()),
                    decision: None,
                    carry_over: None,
                });
            }
        }
    }
    order_like_groups(&mut out, groups);
    (out, noise, compared)
}

/// The fewest earlier runs of a budget that give its variance between runs.
const HISTORY_RUNS: usize = 3;

/// The variance between runs of one overhead, from the earlier runs that judged it (at least
/// [`HISTORY_RUNS`]): the variance of their estimates beyond what their own standard errors
/// explain (DerSimonian and Laird's moment estimate), and how many there were.
fn between_runs(
    results: &RunResults,
    mode: &str,
    rate: f64,
    budget: &BudgetKind,
) -> Option<(f64, usize)> {
    let past: Vec<(f64, f64)> = results
        .history
        .iter()
        .filter_map(|r| {
            r.overheads
                .iter()
                .find(|o| o.mode == mode && o.rate == rate && &o.budget == budget)
        })
        .map(|o| (o.value, o.se))
        .collect();
    (past.len() >= HISTORY_RUNS).then(|| (between_run_variance(&past), past.len()))
}

/// Budgets group by group in the order of `groups` (the trace budgets of a group first).
fn order_like_groups(out: &mut [BudgetResult], groups: &[Group]) {
    let index = |b: &BudgetResult| {
        groups
            .iter()
            .position(|g| g.mode == b.mode && g.rate == b.rate)
            .unwrap_or(usize::MAX)
    };
    let trace_first = |b: &BudgetResult| usize::from(b.budget.judged_while_running());
    out.sort_by_key(|b| (index(b), trace_first(b)));
}

/// The cells of one rate with their place in the model: round, position within the round's
/// cells at this rate, treatment, and the mode of the cell measured just before at any rate
/// (the run's discarded first cell is the baseline). Computed once per rate; each measure then
/// only reads its figure.
fn placed<'c>(
    results: &RunResults,
    layout: &Layout,
    cells: &[&'c CellResult],
) -> Vec<(&'c CellResult, Obs)> {
    let previous: std::collections::HashMap<u32, usize> = results
        .cells
        .iter()
        .map(|o| (o.order + 1, layout.class(&o.mode)))
        .collect();
    let mut sorted: Vec<&CellResult> = cells.to_vec();
    sorted.sort_by_key(|c| (c.round, c.order));
    let mut out = Vec::with_capacity(sorted.len());
    for same_round in sorted.chunk_by(|a, b| a.round == b.round) {
        for (position, c) in same_round.iter().enumerate() {
            let Some(treatment) = layout.treatment(&c.mode, c.replicate) else {
                continue;
            };
            let obs = Obs {
                round: c.round,
                position,
                treatment,
                previous: previous.get(&c.order).copied().unwrap_or(0),
                speed: machine_speed(c),
                y: 0.0,
            };
            out.push((*c, obs));
        }
    }
    out
}

/// How slowly the machine ran a cell: the driver's CPU per request sent, µs. The driver does
/// the same work in every mode, so this moves with the machine (frequency, neighbours, caches),
/// not with the mode; `None` when not measured.
fn machine_speed(c: &CellResult) -> Option<f64> {
    let cpu = c.load.driver_cpu_s?;
    (c.load.sent > 0 && cpu > 0.0).then(|| cpu * 1e6 / c.load.sent as f64)
}

/// The driver's CPU per request should not move with the mode (the driver does the same work in
/// each); where it does, adjusting latency and CPU for it would take part of the mode's effect,
/// so the run says so.
fn check_speed(
    placed: &[(&CellResult, Obs)],
    layout: &Layout,
    overhead_of: &dyn Fn(&str) -> Vec<(usize, f64)>,
    rate: f64,
    warnings: &mut Vec<String>,
) {
    let obs: Vec<Obs> = placed
        .iter()
        .filter_map(|(_, o)| {
            Some(Obs {
                y: o.speed?,
                speed: None,
                ..*o
            })
        })
        .collect();
    if obs.is_empty() || obs.len() < placed.len() {
        return;
    }
    let Some(model) = Model::new(&obs, layout.treatments(), layout.classes()) else {
        return;
    };
    let fit = model.fit(obs.iter().map(|o| o.y));
    let mean = obs.iter().map(|o| o.y).sum::<f64>() / obs.len() as f64;
    for mode in &layout.modes {
        let Some(e) = contrast(Some(&fit), &overhead_of(mode))
            .and_then(aa_interval)
            .filter(|e| e.low > 0.0 || e.high < 0.0)
        else {
            continue;
        };
        let pct = |v: f64| v / mean * 100.0;
        warnings.push(format!(
            "{mode} at {rate} rps: the driver's CPU per request moves with the mode ({:+.1}% \
             [{:+.1}%, {:+.1}%]), though it does the same work in every mode: adjusting latency \
             and CPU for the machine's speed may take part of {mode}'s effect",
            pct(e.value),
            pct(e.low),
            pct(e.high)
        ));
    }
}

/// The placed cells as the crossover model's observations of `measure` (cells that did not
/// measure it left out). Latency and CPU move with the machine's speed and are adjusted for it;
/// memory and errors do not.
fn observations(placed: &[(&CellResult, Obs)], measure: Measure) -> Vec<Obs> {
    let by_speed = matches!(measure, Measure::Latency(_) | Measure::Cpu(_));
    placed
        .iter()
        .filter_map(|(c, o)| {
            Some(Obs {
                y: cell_value(c, measure)?,
                speed: o.speed.filter(|_| by_speed),
                ..*o
            })
        })
        .collect()
}

/// A two-sided interval at `level` (0.975 for 95%) around an effect with a positive standard
/// error; `None` without one.
pub(super) fn interval(e: Effect, level: f64) -> Option<Estimate> {
    let se = e.se.filter(|&se| se > 0.0)?;
    let half = t_quantile(level, e.df) * se;
    Some(Estimate {
        value: e.value,
        low: e.value - half,
        high: e.value + half,
        se: Some(se),
        df: Some(e.df),
    })
}

/// An A/A effect's two-sided interval at [`AA_LEVEL`].
fn aa_interval(e: Effect) -> Option<Estimate> {
    interval(e, 1.0 - (1.0 - AA_LEVEL) / 2.0)
}

/// The A/A diagnostic at one rate: its 99% interval, pass when it holds 0, fail when not.
fn noise_floor(mode: &str, rate: f64, budget: &BudgetKind, e: Effect) -> NoiseFloor {
    let estimate = aa_interval(e).unwrap_or(Estimate::point(e.value));
    let verdict = if !estimate.has_interval() {
        Verdict::Inconclusive
    } else if estimate.low <= 0.0 && 0.0 <= estimate.high {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    NoiseFloor {
        mode: mode.to_string(),
        rate,
        budget: budget.clone(),
        estimate,
        verdict,
        split: SPLIT.to_string(),
    }
}

/// One budget's sequential verdict.
struct Judged {
    overhead: Option<Estimate>,
    verdict: Verdict,
    note: Option<String>,
    decision: Option<Decision>,
}

/// Judges one overhead at each look in turn: the first look whose estimate clears the limit by
/// its boundary decides. A pass needs the A/A at that look to hold 0 (`aa_at`). Undecided at
/// the last look: inconclusive, with how far from deciding it is.
fn sequential(
    (looks, fractions, finished): (&[u32], &[f64], bool),
    limit: f64,
    estimate_at: impl Fn(usize) -> Option<Effect>,
    aa_at: impl Fn(usize) -> Option<Effect>,
) -> Judged {
    let mut last = None;
    let mut blocked = None;
    let mut previous_df: Option<f64> = None;
    for (k, &rounds) in looks.iter().enumerate() {
        let Some(e) = estimate_at(k) else { continue };
        let Some(se) = e.se.filter(|&se| se > 0.0 && e.df >= 1.0) else {
            last = Some((k, e, None));
            continue;
        };
        // The previous look's degrees of freedom: see the sequential module's doc.
        let final_look = finished && k + 1 == looks.len();
        let c = t_boundary(
            fractions,
            k,
            previous_df.unwrap_or(e.df).min(e.df),
            final_look,
        );
        previous_df = Some(e.df);
        let overhead = Estimate {
            value: e.value,
            low: e.value - c * se,
            high: e.value + c * se,
            se: Some(se),
            df: Some(e.df),
        };
        let decision = |decided| Decision {
            rounds,
            decided,
            boundary: c,
            resolution: c * se,
            more_rounds: None,
        };
        if overhead.low > limit {
            return Judged {
                overhead: Some(overhead),
                verdict: Verdict::Fail,
                note: None,
                decision: Some(decision(true)),
            };
        }
        if overhead.high <= limit {
            // An A/A that excludes 0 is a bias of up to its farthest bound: the pass must hold
            // with that much added, or it waits for a later look.
            let bias = aa_at(k)
                .and_then(aa_interval)
                .filter(|a| a.low > 0.0 || a.high < 0.0);
            match bias {
                Some(a) if overhead.high + a.low.abs().max(a.high.abs()) > limit => {
                    blocked = Some(format!(
                        "the baseline against itself measured {:+.3} [{:+.3}, {:+.3}] (99%), \
                         which excludes 0, and the interval with that much bias added reaches \
                         the limit: the machine or the method is not steady enough to trust a \
                         pass",
                        a.value, a.low, a.high
                    ));
                }
                _ => {
                    return Judged {
                        overhead: Some(overhead),
                        verdict: Verdict::Pass,
                        note: bias.map(|a| {
                            format!(
                                "passes with the bias of the baseline against itself added \
                                 ({:+.3} [{:+.3}, {:+.3}], 99%, which excludes 0)",
                                a.value, a.low, a.high
                            )
                        }),
                        decision: Some(decision(true)),
                    };
                }
            }
        }
        last = Some((k, e, Some((overhead, c))));
    }
    let Some((k, e, judged)) = last else {
        return Judged {
            overhead: None,
            verdict: Verdict::Inconclusive,
            note: Some("not measured in both modes".into()),
            decision: None,
        };
    };
    let Some((overhead, c)) = judged else {
        let why = if e.df < 1.0 {
            "too few rounds for an interval between restarts: run more rounds"
        } else {
            "every round measured the same difference (a zero spread is no interval): the \
             figure is too coarse for this budget"
        };
        return Judged {
            overhead: Some(Estimate::point(e.value)),
            verdict: Verdict::Inconclusive,
            note: Some(why.into()),
            decision: None,
        };
    };
    let rounds = looks[k];
    let se = overhead.se.unwrap_or(0.0);
    let distance = (e.value - limit).abs();
    let needed = (c * se / distance).powi(2) * f64::from(rounds);
    let more_rounds = (distance > 0.0 && needed.is_finite())
        .then(|| (needed - f64::from(rounds)).ceil().clamp(1.0, 1e6) as u32);
    let mut note = format!(
        "not decided after {rounds} rounds: the overhead is within {:.3} of the limit, closer \
         than this run could tell",
        c * se
    );
    match more_rounds {
        Some(n) => note.push_str(&format!(
            "; about {n} more rounds at this noise would decide it"
        )),
        None => note.push_str("; it sits on the limit"),
    }
    if let Some(b) = blocked {
        note = format!("{b}; {note}");
    }
    Judged {
        overhead: Some(overhead),
        verdict: Verdict::Inconclusive,
        note: Some(note),
        decision: Some(Decision {
            rounds,
            decided: false,
            boundary: c,
            resolution: c * se,
            more_rounds,
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(value: f64, se: f64) -> Effect {
        Effect {
            value,
            se: Some(se),
            df: 20.0,
        }
    }

    #[test]
    fn a_look_decides_once_the_interval_clears_the_limit() {
        let looks = [8, 12, 16];
        let fractions = [0.5, 0.75, 1.0];
        let none = |_| None;
        // Far below: pass at the first look.
        let j = sequential(
            (&looks, &fractions, false),
            1.0,
            |_| Some(effect(0.2, 0.1)),
            none,
        );
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(j.decision.unwrap().rounds, 8);
        // Near the limit with the standard error falling: decided at a later look.
        let j = sequential(
            (&looks, &fractions, false),
            1.0,
            |k| Some(effect(1.5, [0.3, 0.2, 0.1][k])),
            none,
        );
        assert_eq!(j.verdict, Verdict::Fail);
        assert!(j.decision.unwrap().rounds > 8);
        // On the limit: undecided, saying so.
        let j = sequential(
            (&looks, &fractions, false),
            1.0,
            |_| Some(effect(1.0, 0.1)),
            none,
        );
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.note.unwrap().contains("sits on the limit"));
        // Near it: how many more rounds.
        let j = sequential(
            (&looks, &fractions, false),
            1.0,
            |_| Some(effect(0.9, 0.1)),
            none,
        );
        let d = j.decision.unwrap();
        assert!(!d.decided && d.more_rounds.unwrap() > 16, "{d:?}");
        // A zero standard error is no interval.
        let j = sequential(
            (&looks, &fractions, false),
            1.0,
            |_| Some(effect(0.0, 0.0)),
            none,
        );
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.note.unwrap().contains("zero spread"));
    }

    #[test]
    fn only_an_a_a_that_excludes_zero_and_reaches_the_limit_blocks_a_pass() {
        let looks = [8];
        let fractions = [1.0];
        let pass = |_| Some(effect(0.2, 0.1));
        let steady = sequential((&looks, &fractions, false), 1.0, pass, |_| {
            Some(effect(0.1, 0.1))
        });
        assert_eq!(steady.verdict, Verdict::Pass);
        let broken = sequential((&looks, &fractions, false), 1.0, pass, |_| {
            Some(effect(0.6, 0.1))
        });
        assert_eq!(broken.verdict, Verdict::Inconclusive);
        assert!(broken.note.unwrap().contains("excludes 0"));
        // The same A/A beside a limit far away: the pass holds with its bias added, and says so.
        let far = sequential((&looks, &fractions, false), 50.0, pass, |_| {
            Some(effect(0.6, 0.1))
        });
        assert_eq!(far.verdict, Verdict::Pass);
        assert!(far.note.unwrap().contains("bias"));
        // A fail is never blocked.
        let fail = sequential(
            (&looks, &fractions, false),
            1.0,
            |_| Some(effect(3.0, 0.1)),
            |_| Some(effect(0.6, 0.1)),
        );
        assert_eq!(fail.verdict, Verdict::Fail);
    }
}
