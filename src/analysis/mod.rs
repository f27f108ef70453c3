//! Overheads, confidence intervals and budget verdicts: pure functions from a run's results
//! ([`crate::results::RunResults`]) to an [`Analysis`], computed once and rendered by every
//! exporter. Any `RunResults` is accepted, partial ones included: what cannot be judged is
//! `inconclusive` with a note, never an error.
//!
//! - [`latency`]: stratified bootstrap over per-second histograms (latency, throughput).
//! - [`resources`]: CPU and memory per service, block bootstrap of one-second samples.
//! - [`traces`]: trace volume against the binomial interval of the expectation.
//! - [`budgets`]: overhead against the baseline per budget, verdicts, the noise floor.

mod budgets;
mod latency;
mod model;
mod resources;
mod stats;
mod traces;

pub use model::*;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::results::{CellResult, RunResults};
use latency::{LatencySample, MEAN, Stats, THROUGHPUT};
use resources::Figure;
use stats::{percentile_interval, wilson};

/// Bootstrap resamples per interval: enough for stable 2.5%/97.5% quantiles (their Monte Carlo
/// error is a few percent of the interval's width), cheap enough to run in well under a second.
pub const RESAMPLES: u32 = 1000;
/// The bootstrap's seed: the same results always give the same intervals.
pub const SEED: u64 = 0x7472_6163_6562_656e;

/// One mode at one rate: its cells (rounds) and their latency resamples.
struct Group<'a> {
    mode: &'a str,
    rate: f64,
    cells: Vec<&'a CellResult>,
    latency: LatencySample,
    point: Stats,
    max_ms: f64,
    /// Bootstrap replicates; empty when the group has fewer than two seconds.
    replicates: Vec<Stats>,
}

/// Analyses a run: per-group figures, overheads and verdicts per budget, the noise floor.
pub fn analyze(results: &RunResults) -> Analysis {
    let mut rng = StdRng::seed_from_u64(SEED);
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
    let groups = group_cells(results, &mut rng, &mut warnings);
    let summaries: Vec<GroupSummary> = groups
        .iter()
        .map(|g| summarize(results, g, &mut rng))
        .collect();
    let (budgets, noise_floor) =
        budgets::judge(results, &groups, &summaries, &mut rng, &mut warnings);
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
        warnings,
    }
}

fn methods() -> Methods {
    Methods {
        confidence: 0.95,
        resamples: RESAMPLES,
        seed: SEED,
        latency: "stratified bootstrap over per-second latency histograms: seconds resampled \
                  with replacement within each round, percentiles recomputed from the merged \
                  buckets; 95% percentile interval of mode minus baseline"
            .into(),
        cpu: "mean over rounds of the window CPU (cumulative CPU time / window); interval from a \
              moving-block bootstrap (blocks of at least 5 s) of one-second samples within each \
              round, +- t x its standard deviation"
            .into(),
        memory: "mean over rounds of each window's mean memory; interval from a moving-block \
                 bootstrap (blocks of at least 5 s) of one-second samples within each round, +- t x \
                 its standard deviation"
            .into(),
        trace_volume: "expected = ok requests x sampling ratio; pass when observed lies within \
                       the 99% binomial (Wilson score) interval of expected, widened by the \
                       tolerance"
            .into(),
        noise_floor: "the baseline against itself: even against odd seconds (latency) or \
                      alternate 5 s blocks of samples (CPU, memory) of every round, by the same \
                      method as the budget"
            .into(),
    }
}

/// Cells grouped by mode and rate: modes in the scenario's order (unknown modes after them),
/// rates ascending.
fn group_cells<'a>(
    results: &'a RunResults,
    rng: &mut StdRng,
    warnings: &mut Vec<String>,
) -> Vec<Group<'a>> {
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
            if cells.is_empty() {
                continue;
            }
            let latency = LatencySample::new(&cells, |_| true);
            let (point, max_ms) = latency.point();
            let replicates = if latency.seconds() >= 2 {
                latency.bootstrap(rng, RESAMPLES)
            } else {
                warnings.push(format!(
                    "{mode} at {rate} rps has fewer than 2 per-second records: no latency interval"
                ));
                vec![]
            };
            groups.push(Group {
                mode,
                rate,
                cells,
                latency,
                point,
                max_ms,
                replicates,
            });
        }
    }
    groups
}

/// The point and 95% interval of statistic `index` of a group (point only without replicates).
fn stat_estimate(g: &Group, index: usize) -> Estimate {
    let mut column: Vec<f64> = g.replicates.iter().map(|r| r[index]).collect();
    percentile_interval(g.point[index], &mut column)
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

fn summarize(results: &RunResults, g: &Group, rng: &mut StdRng) -> GroupSummary {
    let sum = |f: fn(&CellResult) -> u64| g.cells.iter().map(|c| f(c)).sum::<u64>();
    let (completed, errors) = (sum(|c| c.completed), sum(|c| c.errors));
    let services = services(&g.cells)
        .into_iter()
        .map(|service| {
            let cpu = resources::series(&g.cells, service, Figure::Cpu);
            let memory = resources::series(&g.cells, service, Figure::Memory);
            ServiceSummary {
                service: service.to_string(),
                cpu_pct: resources::mean(rng, RESAMPLES, &cpu).map(|(e, _)| e),
                cpu_seconds_per_1k_requests: cpu_per_1k(&g.cells, service),
                memory_mean_mb: resources::mean(rng, RESAMPLES, &memory).map(|(e, _)| e),
                memory_max_mb: memory
                    .iter()
                    .flat_map(|c| c.samples.iter().copied())
                    .max_by(f64::total_cmp),
            }
        })
        .collect();
    let ratio = sampling_ratio(results, g.mode).unwrap_or(0.0);
    GroupSummary {
        mode: g.mode.to_string(),
        rate: g.rate,
        rounds: g.cells.len() as u32,
        seconds: g.latency.seconds() as u32,
        latency_ms: LatencySummary {
            p50: stat_estimate(g, 0),
            p90: stat_estimate(g, 1),
            p99: stat_estimate(g, 2),
            p999: stat_estimate(g, 3),
            mean: stat_estimate(g, MEAN),
            max: g.max_ms,
        },
        throughput_rps: stat_estimate(g, THROUGHPUT),
        achieved_rate: g.cells.iter().map(|c| c.achieved_rate).sum::<f64>() / g.cells.len() as f64,
        sent: sum(|c| c.sent),
        completed,
        ok: sum(|c| c.ok),
        errors,
        dropped: sum(|c| c.dropped),
        error_rate: wilson(errors, completed),
        services,
        traces: traces::summaries(results, &g.cells, ratio),
        partial: g.cells.iter().any(|c| c.partial),
    }
}

/// Total CPU seconds over total completed requests, x 1,000, over the cells that report it.
fn cpu_per_1k(cells: &[&CellResult], service: &str) -> Option<f64> {
    let (mut cpu_s, mut completed) = (0.0, 0u64);
    for c in cells {
        let r = c.resources.iter().find(|r| r.service == service);
        if let Some(per_1k) = r.and_then(|r| r.cpu_seconds_per_1k_requests) {
            cpu_s += per_1k * c.completed as f64 / 1000.0;
            completed += c.completed;
        }
    }
    (completed > 0).then(|| cpu_s / completed as f64 * 1000.0)
}
