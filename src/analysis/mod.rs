//! Overheads, confidence intervals and budget verdicts: pure functions from a run's results
//! ([`crate::results::RunResults`]) to an [`Analysis`], computed once and rendered by every
//! exporter. Any `RunResults` is accepted, partial ones included: what cannot be judged is
//! `inconclusive` with a note, never an error.
//!
//! - [`rounds`]: figures per cell, and a group's levels over rounds (the replicates).
//! - [`crossover`]: the model behind each overhead (round, position, treatment, carry-over, the
//!   machine's speed).
//! - [`sequential`]: the boundaries of the looks of a run that adds rounds until it decides.
//! - [`errors`]: the errors budget on pooled counts, rounds as clusters, and the outright rule.
//! - [`traces`]: trace volume against the binomial interval of the expectation.
//! - [`budgets`]: the sequential verdict per budget, the carry-over, the A/A diagnostic.
//! - [`slowest`]: the slowest requests per group, with their traces' breakdowns.
//! - [`variants`]: in a run of several builds, each candidate against the base.
//! - [`thresholds`]: how far a figure may move before it is a regression (`run` with variants,
//!   and `compare`).

mod budgets;
mod crossover;
mod errors;
mod model;
mod rounds;
mod sequential;
mod slowest;
mod stats;
pub mod thresholds;
mod traces;
mod variants;

pub use model::*;
pub use rounds::LATENCY_STATS;
#[cfg(test)]
pub(crate) use stats::standard_normal;
pub use stats::{between_run_variance, t_cdf, welch_difference};

use crate::results::{CellResult, RunResults};
use rounds::{Measure, level};
use stats::wilson;

/// One mode at one rate: its cells, every round and replicate.
struct Group<'a> {
    mode: &'a str,
    rate: f64,
    cells: Vec<&'a CellResult>,
}

/// Analyses a run: per-group figures, overheads and verdicts per budget, the noise floor.
pub fn analyze(results: &RunResults) -> Analysis {
    let mut warnings = Vec::new();
    if results.partial {
        warnings.push(format!(
            "the run stopped early ({}): only the cells present are analysed",
            results
                .stop_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        ));
    }
    let groups = group_cells(results);
    for g in &groups {
        let rounds = rounds_of(&g.cells);
        if rounds < 2 {
            warnings.push(format!(
                "{} at {} rps was measured in {rounds} round(s): an interval needs at least 2 \
                 rounds (restarts), so its budgets are inconclusive",
                g.mode, g.rate
            ));
        }
    }
    for c in &results.cells {
        for w in &c.warnings {
            warnings.push(format!(
                "{} at {} rps, round {}: {w}",
                c.mode,
                c.rate,
                c.round + 1
            ));
        }
    }
    let summaries: Vec<GroupSummary> = groups.iter().map(|g| summarize(results, g)).collect();
    warnings.extend(driver_warnings(results, &summaries));
    let (budgets, noise_floor, compared) =
        budgets::judge(results, &groups, &summaries, &mut warnings);
    let mut outcome = budgets
        .iter()
        .map(|b| b.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    // A probe that did not come back whole means traces are lost or broken: the run fails
    // whatever the overheads say.
    if let Some(p) = results.probes.as_ref().filter(|p| p.found < p.sent) {
        warnings.push(format!(
            "connectivity probes: only {} of {} traces came back whole, so the outcome is fail",
            p.found, p.sent
        ));
        outcome = Verdict::Fail;
    }
    Analysis {
        methods: methods(),
        groups: summaries,
        budgets,
        noise_floor,
        outcome,
        variants: results.variants.first().map(|base| VariantComparison {
            base: base.clone(),
            method: variants::METHOD.to_string(),
            rows: compared,
        }),
        warnings,
        slowest: slowest::slowest(results, &groups),
    }
}

fn methods() -> Methods {
    Methods {
        confidence: 0.95,
        intervals: "rounds are the replicates: every figure is computed once per cell (one \
                    restart of every service, one whole window); an overhead is the mode's \
                    effect against the baseline (the mean of its two cells a round) in a \
                    least-squares crossover model of every cell at the rate, with rounds and \
                    positions as blocks and the previous cell's mode as a carry-over term, so \
                    the estimate is unbiased when a mode slows the cell after it, and (latency \
                    and CPU) the machine's speed in the cell, the driver's own CPU per request, \
                    as a covariate, so a cell the machine ran slowly does not count as noise \
                    of the mode; its interval \
                    is the estimate +- the look's boundary x its standard error (residual \
                    degrees of freedom). The run is sequential: it looks after its minimum \
                    rounds and after every further square of the order, and each budget is two \
                    one-sided tests against its limit whose 2.5% each are spent over the looks \
                    (Hwang-Shih-DeCani, gamma -4), so the error at the limit stays at 2.5% \
                    each side however many looks are taken; with one look the interval is the \
                    ordinary 95% t interval. The first look that decides a budget decides it; \
                    a finished run's last look spends what is left of the 2.5%"
            .into(),
        latency: "per cell, the percentile of its corrected latency histogram (from each \
                  request's due time; timed-out and failed requests count with the time they \
                  took)"
            .into(),
        cpu: "per cell, the window CPU of each service: its CPU counter read at the window's \
              start and end over the window's length, % of one core; the overhead in \
              percentage points"
            .into(),
        memory: "per cell, the mean of each service's one-second memory samples over the \
                 window, MB (10^6 bytes)"
            .into(),
        errors: "failed, timed-out, unexpected-status, dropped and unfinished requests over \
                 requests due, pooled per mode: the mode's share minus the baseline's, with a \
                 cluster-robust standard error (rounds as clusters, so bursts of errors widen \
                 it) floored by the binomial one with one error and one success added to each \
                 side, judged sequentially against the budget in percentage points; and any \
                 cell of a mode more than 5 points above the baseline's share fails the mode \
                 at once"
            .into(),
        trace_volume: "expected = requests answered (any status: each roots a trace) x sampling \
                       ratio, requests without an answer widening the upper end only; pass when \
                       observed lies within \
                       the 99% binomial (Wilson score) interval of expected, widened by the \
                       tolerance"
            .into(),
        order: "each round measures, per rate, every mode once and the baseline twice, in a row \
                of a Williams design (each treatment follows every other equally often over a \
                whole number of squares) drawn from the run's seed, after one discarded cell"
            .into(),
        noise_floor: "the baseline against itself: its two cells of each round, estimated in \
                      the same model as every overhead, with a 99% interval; it is a \
                      diagnostic, not a gate: only an A/A whose interval excludes 0 (the \
                      machine or the method is not steady) counts as a bias that a pass must \
                      hold with"
            .into(),
    }
}

/// Cells grouped by mode and rate: modes in the scenario's order (unknown modes after them),
/// rates ascending.
fn group_cells(results: &RunResults) -> Vec<Group<'_>> {
    let mut modes: Vec<&str> = results.modes.iter().map(|m| m.name.as_str()).collect();
    let mut rates: Vec<f64> = Vec::new();
    for c in &results.cells {
        if !modes.contains(&c.mode.as_str()) {
            modes.push(&c.mode);
        }
        if !rates.contains(&c.rate) {
            rates.push(c.rate);
        }
    }
    rates.sort_by(f64::total_cmp);
    let mut groups = Vec::new();
    for &mode in &modes {
        for &rate in &rates {
            let cells: Vec<&CellResult> = results
                .cells
                .iter()
                .filter(|c| c.mode == mode && c.rate == rate)
                .collect();
            if !cells.is_empty() {
                groups.push(Group { mode, rate, cells });
            }
        }
    }
    groups
}

fn rounds_of(cells: &[&CellResult]) -> usize {
    let mut rounds: Vec<u32> = cells.iter().map(|c| c.round).collect();
    rounds.sort_unstable();
    rounds.dedup();
    rounds.len()
}

/// Service names in the order the group's cells list them.
fn services<'a>(cells: &[&'a CellResult]) -> Vec<&'a str> {
    let mut names = Vec::new();
    for r in cells.iter().flat_map(|c| &c.resources) {
        if !names.contains(&r.service.as_str()) {
            names.push(r.service.as_str());
        }
    }
    names
}

fn sampling_ratio(results: &RunResults, mode: &str) -> Option<f64> {
    results
        .modes
        .iter()
        .find(|m| m.name == mode)
        .map(|m| m.sampling_ratio)
}

fn summarize(results: &RunResults, g: &Group) -> GroupSummary {
    let sum = |f: fn(&CellResult) -> u64| g.cells.iter().map(|c| f(c)).sum::<u64>();
    let due = sum(|c| c.load.due);
    let bad = sum(CellResult::failed_requests);
    let latency = |name| level(&g.cells, Measure::Latency(name)).unwrap_or_default();
    let services = services(&g.cells)
        .into_iter()
        .map(|service| ServiceSummary {
            service: service.to_string(),
            cpu_pct: level(&g.cells, Measure::Cpu(service)),
            cpu_seconds_per_1k_requests: cpu_per_1k(&g.cells, service),
            memory_mean_mb: level(&g.cells, Measure::Memory(service)),
            memory_max_mb: g
                .cells
                .iter()
                .filter_map(|c| c.resources.iter().find(|r| r.service == service))
                .flat_map(|r| r.samples.iter().filter_map(|s| s.mem_bytes))
                .max()
                .map(|b| b as f64 / 1e6),
        })
        .collect();
    let ratio = sampling_ratio(results, g.mode).unwrap_or(0.0);
    GroupSummary {
        mode: g.mode.to_string(),
        rate: g.rate,
        rounds: rounds_of(&g.cells) as u32,
        cells: g.cells.len() as u32,
        seconds: g.cells.iter().map(|c| c.seconds.len() as u32).sum(),
        latency_ms: LatencySummary {
            p50: latency("p50"),
            p90: latency("p90"),
            p99: latency("p99"),
            p999: latency("p999"),
            mean: latency("mean"),
            max: g
                .cells
                .iter()
                .map(|c| c.load.latency_ms.max)
                .fold(0.0, f64::max),
        },
        throughput_rps: level(&g.cells, Measure::Throughput).unwrap_or_default(),
        achieved_rate: g.cells.iter().map(|c| c.load.achieved_rate).sum::<f64>()
            / g.cells.len() as f64,
        due,
        sent: sum(|c| c.load.sent),
        completed: sum(|c| c.load.completed),
        ok: sum(|c| c.ok),
        errors: sum(|c| c.load.errors),
        dropped: sum(|c| c.load.dropped),
        unfinished: sum(|c| c.load.unfinished),
        error_rate: wilson(bad, due),
        services,
        traces: traces::summaries(results, &g.cells, ratio),
        driver: driver(&g.cells),
        partial: g.cells.iter().any(|c| c.load.partial),
    }
}

fn driver(cells: &[&CellResult]) -> DriverSummary {
    let pcts: Vec<f64> = cells
        .iter()
        .filter_map(|c| {
            let window_s = (c.window_end_unix_ms - c.window_start_unix_ms) as f64 / 1000.0;
            c.tracebench_cpu_s
                .filter(|_| window_s > 0.0)
                .map(|cpu| cpu / window_s * 100.0)
        })
        .collect();
    let worst = |f: fn(&CellResult) -> f64| cells.iter().map(|c| f(c)).fold(0.0, f64::max);
    DriverSummary {
        tracebench_cpu_pct: (!pcts.is_empty())
            .then(|| pcts.iter().sum::<f64>() / pcts.len() as f64),
        lag_p99_ms: worst(|c| c.load.driver_lag_ms.p99),
        lag_max_ms: worst(|c| c.load.driver_lag_ms.max),
    }
}

/// Warnings when the driver's own cost may have moved the figures: its lag p99 above a tenth of
/// the smallest latency budget, or its CPU above what the services it drives used.
fn driver_warnings(results: &RunResults, groups: &[GroupSummary]) -> Vec<String> {
    let smallest = results
        .budgets
        .latency_ms
        .values()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let mut out = Vec::new();
    for g in groups {
        if smallest.is_finite() && g.driver.lag_p99_ms > smallest / 10.0 {
            out.push(format!(
                "{} at {} rps: the driver's lag p99 reached {:.2} ms, more than a tenth of the \
                 smallest latency budget ({smallest} ms): the driver sent late, so latency \
                 figures there carry its delay",
                g.mode, g.rate, g.driver.lag_p99_ms
            ));
        }
        if let (Some(own), Some(services)) = (g.driver.tracebench_cpu_pct, g.services_cpu_pct())
            && own > services
        {
            out.push(format!(
                "{} at {} rps: tracebench used {own:.1}% of a core, more than the services it \
                 drives ({services:.1}%): on a shared machine its cost may show in theirs",
                g.mode, g.rate
            ));
        }
    }
    out
}

/// Total CPU seconds over total completed requests, x 1,000, over the cells that report it.
fn cpu_per_1k(cells: &[&CellResult], service: &str) -> Option<f64> {
    let (mut cpu_s, mut completed) = (0.0, 0u64);
    for c in cells {
        let r = c.resources.iter().find(|r| r.service == service);
        if let Some(per_1k) = r.and_then(|r| r.cpu_seconds_per_1k_requests) {
            cpu_s += per_1k * c.load.completed as f64 / 1000.0;
            completed += c.load.completed;
        }
    }
    (completed > 0).then(|| cpu_s / completed as f64 * 1000.0)
}
