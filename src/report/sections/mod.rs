//! The text of a report, as sections of tables and sentences, built once and rendered by both
//! `report.md` and `report.html`, so the two never disagree. Order matters and is the brief's:
//! verdicts first, then the noise floor, then the details a reviewer digs into.

mod glance;
mod measured;
mod slowest;
mod variants;
mod verdicts;

use crate::analysis::{BudgetKind, BudgetResult, Estimate, Summary, Verdict};
use crate::report::{fmt_rate, unique};
use crate::results::RunResults;
use glance::glance;
use measured::{driver, latency, probes, resources, traces};
use slowest::slowest;
use variants::variants;
use verdicts::{noise_floor, verdicts};

/// A table of pre-formatted cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Cells that link somewhere: (row, column, URL).
    pub links: Vec<(usize, usize, String)>,
}

impl Table {
    /// The URL cell (`row`, `col`) links to, if any.
    pub fn link(&self, row: usize, col: usize) -> Option<&str> {
        self.links
            .iter()
            .find(|(r, c, _)| (*r, *c) == (row, col))
            .map(|(_, _, url)| url.as_str())
    }
}

/// A table header from its column titles.
fn strings(titles: &[&str]) -> Vec<String> {
    titles.iter().map(|t| t.to_string()).collect()
}

/// What a section is about; the HTML report puts the matching charts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Variants,
    Glance,
    Verdicts,
    NoiseFloor,
    Latency,
    Resources,
    Driver,
    Traces,
    Slowest,
    Probes,
    Methods,
    Environment,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub topic: Topic,
    pub title: String,
    /// Sentences shown before the table: the answer itself, where a sentence can give it.
    pub lead: Vec<String>,
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
            lead: Vec::new(),
            paragraphs: Vec::new(),
            table: None,
            items: Vec::new(),
        }
    }
}

/// The report's sections, in order.
pub fn sections(summary: &Summary) -> Vec<Section> {
    // With variants, the comparison of builds is the answer: it comes first.
    let mut all: Vec<Section> = variants(summary).into_iter().collect();
    all.extend([
        glance(summary),
        verdicts(summary),
        noise_floor(summary),
        latency(summary),
    ]);
    all.extend(resources(summary));
    all.push(driver(summary));
    all.extend(traces(summary));
    all.extend(slowest(summary));
    all.extend(probes(summary));
    all.push(methods(summary));
    all.push(environment(summary));
    all
}

/// The title of the whole report.
pub fn title(summary: &Summary) -> String {
    let r = &summary.results;
    let partial = if r.partial { ", PARTIAL run" } else { "" };
    let outcome = match &summary.analysis.variants {
        Some(v) if v.rows.iter().any(|r| r.regression) => "REGRESSION",
        Some(_) => "no regression",
        None => summary.analysis.outcome.as_str(),
    };
    format!("tracebench {}: {outcome}{partial}", r.scenario_name)
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
        links: Vec::new(),
        header: strings(&["", ""]),
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
        .chain(machine_rows(r))
        .map(|(k, v)| vec![k.to_string(), v])
        .collect(),
    });
    s
}

/// What else the run recorded about the machine and the programs, where it did.
fn machine_rows(r: &RunResults) -> Vec<(&'static str, String)> {
    let e = &r.environment;
    let limit = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let mut rows = Vec::new();
    if let Some(model) = &e.cpu_model {
        rows.push(("cpu model", model.clone()));
    }
    if let Some(kernel) = &e.kernel {
        rows.push(("kernel", kernel.clone()));
    }
    rows.push((
        "cgroup limits",
        format!(
            "cpu {} cores, memory {} MB",
            limit(e.cpu_limit_cores.map(|c| format!("{c:.2}"))),
            limit(
                e.memory_limit_bytes
                    .map(|m| format!("{:.0}", m as f64 / 1e6))
            )
        ),
    ));
    if let Some(steal) = r.steal_pct() {
        rows.push((
            "cpu stolen by the hypervisor",
            format!("{steal:.2}% (mean of the cells)"),
        ));
    }
    for p in &e.programs {
        let digest = p.digest.as_deref().unwrap_or("not read");
        rows.push(("program", format!("{}: {} ({digest})", p.service, p.name)));
    }
    rows
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
