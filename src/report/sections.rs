//! The text of a report, as sections of tables and sentences, built once and rendered by both
//! `report.md` and `report.html`, so the two never disagree. Order matters and is the brief's:
//! verdicts first, then the noise floor, then the details a reviewer digs into.

use crate::analysis::{BudgetKind, BudgetResult, Estimate, Summary, Verdict};
use crate::report::{fmt_rate, unique};

/// A table of pre-formatted cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// What a section is about; the HTML report puts the matching charts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Verdicts,
    NoiseFloor,
    Latency,
    Resources,
    Driver,
    Traces,
    Probes,
    Methods,
    Environment,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub topic: Topic,
    pub title: String,
    /// Sentences shown after the table (the table comes first: it is what readers look for).
    pub paragraphs: Vec<String>,
    pub table: Option<Table>,
    /// A bullet list shown last (warnings, probe problems).
    pub items: Vec<String>,
}

impl Section {
    fn new(topic: Topic, title: impl Into<String>) -> Section {
        Section {
            topic,
            title: title.into(),
            paragraphs: Vec::new(),
            table: None,
            items: Vec::new(),
        }
    }
}

/// The report's sections, in order.
pub fn sections(summary: &Summary) -> Vec<Section> {
    let mut all = vec![verdicts(summary), noise_floor(summary), latency(summary)];
    all.extend(resources(summary));
    all.push(driver(summary));
    all.extend(traces(summary));
    all.extend(probes(summary));
    all.push(methods(summary));
    all.push(environment(summary));
    all
}

/// The title of the whole report.
pub fn title(summary: &Summary) -> String {
    let r = &summary.results;
    let partial = if r.partial { ", PARTIAL run" } else { "" };
    format!(
        "tracebench {}: {}{partial}",
        r.scenario_name,
        summary.analysis.outcome.as_str()
    )
}

/// `+0.312 [+0.201, +0.420]`: an estimate and its interval, signed, as overheads are.
pub fn fmt_estimate(e: &Estimate, decimals: usize) -> String {
    format!(
        "{:+.d$} [{:+.d$}, {:+.d$}]",
        e.value,
        e.low,
        e.high,
        d = decimals
    )
}

/// `12.3 [11.9, 12.8]`: a level (latency, CPU, memory), unsigned.
fn fmt_level(e: &Estimate, decimals: usize) -> String {
    format!(
        "{:.d$} [{:.d$}, {:.d$}]",
        e.value,
        e.low,
        e.high,
        d = decimals
    )
}

fn decimals(kind: &BudgetKind) -> usize {
    match kind {
        BudgetKind::Latency { .. } | BudgetKind::TraceVolume { .. } => 3,
        BudgetKind::Cpu { .. }
        | BudgetKind::Memory { .. }
        | BudgetKind::Errors
        | BudgetKind::Completeness { .. } => 2,
    }
}

fn verdict_cell(v: Verdict) -> String {
    match v {
        Verdict::Pass => "pass".to_string(),
        Verdict::Inconclusive => "inconclusive".to_string(),
        Verdict::Fail => "FAIL".to_string(),
    }
}

/// What the verdict rests on besides the interval: the note, the expected memory range, the
/// trace counts.
fn budget_note(b: &BudgetResult, summary: &Summary) -> String {
    let mut notes = Vec::new();
    if let Some(inside) = b.in_expected_range {
        let range = summary.results.budgets.memory_expected_mb;
        let text = range.map_or(String::new(), |(lo, hi)| format!(" {lo}-{hi} MB"));
        // Say which side: below the expected range is good news, above it is a warning sign.
        let below = matches!((range, b.overhead), (Some((lo, _)), Some(e)) if e.value < lo);
        notes.push(match (inside, below) {
            (true, _) => format!("within the expected range{text}"),
            (false, true) => format!("below the expected range{text}"),
            (false, false) => format!("above the expected range{text}"),
        });
    }
    // A trace check's counts are already in the overhead and limit columns.
    if let (Some(note), None) = (&b.note, &b.traces) {
        notes.push(note.clone());
    }
    notes.join("; ")
}

fn verdicts(summary: &Summary) -> Section {
    let a = &summary.analysis;
    let mut s = Section::new(Topic::Verdicts, "Verdicts");
    let count = |v: Verdict| a.budgets.iter().filter(|b| b.verdict == v).count();
    s.paragraphs.push(format!(
        "Outcome: {} ({} fail, {} inconclusive, {} pass; failures first). Each overhead is the mode minus the baseline ({}) at the same rate, \
         with its {:.0}% confidence interval over rounds; pass when the whole interval lies \
         within the budget, fail when it lies beyond, inconclusive when it straddles the limit. \
         Where the baseline against itself (the noise floor below) reaches beyond a limit, no \
         mode passes that budget and one fails it only by clearing the limit by more than that \
         noise; a mode with a cell clearly beyond the errors budget fails it.",
        a.outcome.as_str(),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        count(Verdict::Pass),
        summary.results.baseline,
        a.methods.confidence * 100.0
    ));
    s.table = Some(Table {
        header: vec![
            "mode",
            "rate (req/s)",
            "budget",
            "overhead [95% CI]",
            "limit",
            "verdict",
            "note",
        ],
        rows: worst_first(&a.budgets)
            .into_iter()
            .map(|b| {
                let unit = b.budget.unit();
                // Trace volume is judged on counts (observed against the accepted range of
                // requests x ratio), which read plainer than a ratio and exist when 0 are expected.
                let (overhead, limit) = match (&b.budget, &b.traces) {
                    (BudgetKind::TraceVolume { .. }, Some(t)) => (
                        format!("{} traces, {:.0} expected", t.observed, t.expected),
                        format!("{:.0} to {:.0} traces", t.accept_low, t.accept_high),
                    ),
                    (BudgetKind::TraceVolume { .. }, None) => {
                        ("not counted".to_string(), format!("1 ± {}", b.limit))
                    }
                    _ => (
                        b.overhead.map_or("not measured".to_string(), |e| {
                            format!("{} {unit}", fmt_estimate(&e, decimals(&b.budget)))
                        }),
                        format!("{} {unit}", b.limit),
                    ),
                };
                vec![
                    b.mode.clone(),
                    fmt_rate(b.rate),
                    b.budget.label(),
                    overhead,
                    limit,
                    verdict_cell(b.verdict),
                    budget_note(b, summary),
                ]
            })
            .collect(),
    });
    s.items = a.warnings.iter().map(|w| format!("Warning: {w}")).collect();
    s
}

/// The budgets with failures first, then inconclusive, then passes; otherwise in the
/// analysis's order, so a reader of a long table sees the problems at its top.
fn worst_first(budgets: &[BudgetResult]) -> Vec<&BudgetResult> {
    let mut sorted: Vec<&BudgetResult> = budgets.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.verdict));
    sorted
}

fn noise_floor(summary: &Summary) -> Section {
    let a = &summary.analysis;
    let mut s = Section::new(Topic::NoiseFloor, "Noise floor (baseline against itself)");
    s.paragraphs.push(a.methods.noise_floor.clone());
    s.paragraphs.push(
        "An overhead smaller than these A/A differences cannot be told apart from noise."
            .to_string(),
    );
    s.table = Some(Table {
        header: vec![
            "rate (req/s)",
            "budget",
            "A/A difference [95% CI]",
            "verdict",
            "split",
        ],
        rows: a
            .noise_floor
            .iter()
            .map(|n| {
                vec![
                    fmt_rate(n.rate),
                    n.budget.label(),
                    format!(
                        "{} {}",
                        fmt_estimate(&n.estimate, decimals(&n.budget)),
                        n.budget.unit()
                    ),
                    verdict_cell(n.verdict),
                    n.split.clone(),
                ]
            })
            .collect(),
    });
    s
}

fn latency(summary: &Summary) -> Section {
    let mut s = Section::new(Topic::Latency, "Latency and throughput per mode and rate");
    s.paragraphs.push(
        "Corrected latency (from each request's due time, so a stalled service cannot hide \
         queued requests; failed and timed-out requests count with the time they took), in ms: \
         the mean over rounds of each cell's figure, with 95% intervals. Errors and drops are \
         counted against requests due (the error rate also counts unfinished requests)."
            .to_string(),
    );
    s.table = Some(Table {
        header: vec![
            "mode",
            "rate (req/s)",
            "rounds",
            "cells",
            "throughput (req/s)",
            "p50 (ms)",
            "p90 (ms)",
            "p99 (ms)",
            "p99.9 (ms)",
            "max (ms)",
            "ok",
            "errors",
            "dropped",
            "error rate",
        ],
        rows: summary
            .analysis
            .groups
            .iter()
            .map(|g| {
                let l = &g.latency_ms;
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    g.rounds.to_string(),
                    g.cells.to_string(),
                    fmt_level(&g.throughput_rps, 1),
                    fmt_level(&l.p50, 3),
                    fmt_level(&l.p90, 3),
                    fmt_level(&l.p99, 3),
                    fmt_level(&l.p999, 3),
                    format!("{:.3}", l.max),
                    g.ok.to_string(),
                    g.errors.to_string(),
                    g.dropped.to_string(),
                    format!("{:.2}% of {} due", g.error_rate.value * 100.0, g.due),
                ]
            })
            .collect(),
    });
    s
}

/// The driver's own cost beside the services' figures: how much of the machine tracebench took
/// and how late it sent.
fn driver(summary: &Summary) -> Section {
    let mut s = Section::new(Topic::Driver, "The driver's own cost");
    s.paragraphs.push(
        "tracebench's CPU over the measured windows (the driver, its samplers and the built-in \
         sink when it runs in-process), % of one core, mean of the cells, beside the services' \
         total; the driver's lag (actual send minus due time) of its worst cell. A lag p99 above \
         a tenth of the smallest latency budget, or tracebench above the services' CPU, is \
         warned about."
            .into(),
    );
    s.table = Some(Table {
        header: vec![
            "mode",
            "rate (req/s)",
            "tracebench CPU (% of a core)",
            "services CPU (% of a core)",
            "driver lag p99 (ms)",
            "driver lag max (ms)",
            "dropped",
        ],
        rows: summary
            .analysis
            .groups
            .iter()
            .map(|g| {
                let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    pct(g.driver.tracebench_cpu_pct),
                    pct(g.services_cpu_pct()),
                    format!("{:.3}", g.driver.lag_p99_ms),
                    format!("{:.3}", g.driver.lag_max_ms),
                    g.dropped.to_string(),
                ]
            })
            .collect(),
    });
    s
}

fn resources(summary: &Summary) -> Option<Section> {
    let rows: Vec<Vec<String>> = summary
        .analysis
        .groups
        .iter()
        .flat_map(|g| {
            g.services.iter().map(move |svc| {
                let opt = |e: Option<Estimate>| e.map_or("-".to_string(), |e| fmt_level(&e, 2));
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    svc.service.clone(),
                    opt(svc.cpu_pct),
                    svc.cpu_seconds_per_1k_requests
                        .map_or("-".to_string(), |c| format!("{c:.4}")),
                    opt(svc.memory_mean_mb),
                    svc.memory_max_mb
                        .map_or("-".to_string(), |m| format!("{m:.1}")),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut s = Section::new(Topic::Resources, "CPU and memory per service");
    let sources = unique(summary.results.cells.iter().flat_map(|c| {
        c.resources
            .iter()
            .map(|r| format!("{}: {:?}", r.service, r.source).to_lowercase())
    }));
    s.paragraphs.push(format!(
        "CPU in % of one core over each measured window (from cumulative CPU time), memory in MB \
         (10^6 bytes), 95% intervals. Sources: {} (docker = usage minus inactive file cache, as \
         docker stats; proc = VmRSS).",
        sources.join(", ")
    ));
    s.table = Some(Table {
        header: vec![
            "mode",
            "rate (req/s)",
            "service",
            "CPU (% of a core)",
            "CPU s per 1k requests",
            "memory mean (MB)",
            "memory max (MB)",
        ],
        rows,
    });
    Some(s)
}

fn traces(summary: &Summary) -> Option<Section> {
    let traces = summary.results.traces.as_ref()?;
    let mut s = Section::new(Topic::Traces, "Trace volume");
    s.paragraphs.push(format!(
        "Counted in {} by {}, cell by cell as the run went. Expected = requests answered (any \
         status: each roots a trace) x the mode's sampling ratio; the interval is the 99% \
         binomial interval of what such a sampler keeps, its upper end raised by requests that \
         got no answer. Incomplete: counted traces missing a span of a service in \
         traces.services.",
        traces.store, traces.method
    ));
    if let Some(dropped) = traces.store_dropped_spans {
        s.paragraphs
            .push(format!("Spans dropped by the store itself: {dropped}."));
    }
    s.table = Some(Table {
        header: vec![
            "mode",
            "rate (req/s)",
            "service",
            "observed",
            "expected [99% interval]",
            "observed per min",
            "expected per min",
            "incomplete",
        ],
        rows: summary
            .analysis
            .groups
            .iter()
            .flat_map(|g| {
                g.traces.iter().map(move |t| {
                    vec![
                        g.mode.clone(),
                        fmt_rate(g.rate),
                        t.service.clone(),
                        t.observed.to_string(),
                        fmt_level(&t.expected, 0),
                        format!("{:.1}", t.observed_per_minute),
                        format!("{:.1}", t.expected_per_minute),
                        t.incomplete.map_or("-".to_string(), |n| n.to_string()),
                    ]
                })
            })
            .collect(),
    });
    Some(s)
}

fn probes(summary: &Summary) -> Option<Section> {
    let p = summary.results.probes.as_ref()?;
    let mut s = Section::new(Topic::Probes, "Connectivity probes");
    s.paragraphs.push(
        "Requests carrying known, sampled trace IDs, each looked up in the trace store: found \
         means every expected service's spans came back, linked parent to child."
            .to_string(),
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    s.table = Some(Table {
        header: vec![
            "sent",
            "found",
            "missing",
            "broken",
            "ingestion delay p50 (ms)",
            "ingestion delay max (ms)",
        ],
        rows: vec![vec![
            p.sent.to_string(),
            p.found.to_string(),
            p.missing.to_string(),
            p.broken.to_string(),
            ms(p.ingestion_delay_p50_ms),
            ms(p.ingestion_delay_max_ms),
        ]],
    });
    s.items = p.problems.clone();
    Some(s)
}

fn methods(summary: &Summary) -> Section {
    let m = &summary.analysis.methods;
    let mut s = Section::new(Topic::Methods, "Methods");
    s.paragraphs.push(format!(
        "Confidence level {:.0}%. Intervals: {}.",
        m.confidence * 100.0,
        m.intervals
    ));
    s.items = vec![
        format!("Latency: {}", m.latency),
        format!("CPU: {}", m.cpu),
        format!("Memory: {}", m.memory),
        format!("Errors: {}", m.errors),
        format!("Trace volume: {}", m.trace_volume),
        format!(
            "Order: {}; this run's seed {} (`--seed {}` repeats the order).",
            m.order, summary.results.seed, summary.results.seed
        ),
        format!("Noise floor: {}", m.noise_floor),
    ];
    s
}

fn environment(summary: &Summary) -> Section {
    let r = &summary.results;
    let e = &r.environment;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).map_or(ms.to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
    };
    let modes: Vec<String> = r
        .modes
        .iter()
        .map(|m| format!("{} (sampling {})", m.name, m.sampling_ratio))
        .collect();
    let mut s = Section::new(Topic::Environment, "Run and environment");
    s.table = Some(Table {
        header: vec!["", ""],
        rows: [
            (
                "scenario",
                format!("{} ({})", r.scenario_name, r.scenario_path),
            ),
            ("started", time(r.started_unix_ms)),
            (
                "finished",
                r.finished_unix_ms.map_or("not finished".to_string(), time),
            ),
            ("load target", r.request_target.clone()),
            ("modes", modes.join(", ")),
            ("baseline", r.baseline.clone()),
            ("cells", r.cells.len().to_string()),
            ("target kind", e.target_kind.clone()),
            (
                "host",
                format!("{} ({}, {} CPUs)", e.hostname, e.os, e.cpus),
            ),
            ("tracebench", e.tracebench_version.clone()),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect(),
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_signed_with_their_interval() {
        let e = Estimate::new(0.3125, -0.1, 0.5);
        assert_eq!(fmt_estimate(&e, 3), "+0.312 [-0.100, +0.500]");
        assert_eq!(fmt_level(&e, 1), "0.3 [-0.1, 0.5]");
    }
}
