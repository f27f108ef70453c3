//! The report's opening: one sentence per mode and rate saying what tracing cost and whether it
//! is within budget, then a matrix of budgets down and modes across, each cell its verdict and
//! overhead. The long verdict table follows for whoever needs the intervals.

use super::verdicts::{decimals, verdict_cell};
use super::*;

/// The "at a glance" section.
pub(super) fn glance(summary: &Summary) -> Section {
    let a = &summary.analysis;
    let mut s = Section::new(Topic::Glance, "At a glance");
    let columns = unique(
        a.budgets
            .iter()
            .map(|b| (b.mode.as_str(), b.rate.to_bits())),
    );
    // Rows in the order a reviewer reads: latency, errors, CPU, memory, then the traces.
    let rank = |k: &BudgetKind| match k {
        BudgetKind::Latency { .. } => 0,
        BudgetKind::Errors => 1,
        BudgetKind::Cpu { .. } => 2,
        BudgetKind::Memory { .. } => 3,
        BudgetKind::TraceVolume { .. } => 4,
        BudgetKind::Completeness { .. } => 5,
    };
    let mut kinds = unique(a.budgets.iter().map(|b| &b.budget));
    kinds.sort_by_key(|k| rank(k));
    let budgets: Vec<String> = kinds.into_iter().map(BudgetKind::label).collect();
    let find = |(mode, rate): (&str, u64), label: &str| {
        a.budgets
            .iter()
            .find(|b| b.mode == mode && b.rate.to_bits() == rate && b.budget.label() == label)
    };
    // The baseline against itself is the noise floor's business: it shows here only when one
    // of its own budgets (trace volume: an "off" that still exports) is not a pass.
    let columns: Vec<(&str, u64)> = columns
        .into_iter()
        .filter(|&(mode, rate)| {
            !summary.results.is_baseline(mode)
                || a.budgets.iter().any(|b| {
                    b.mode == mode && b.rate.to_bits() == rate && b.verdict != Verdict::Pass
                })
        })
        .collect();
    let budgets: Vec<String> = budgets
        .into_iter()
        .filter(|label| columns.iter().any(|&c| find(c, label).is_some()))
        .collect();
    for &(mode, rate) in &columns {
        let judged: Vec<&BudgetResult> = a
            .budgets
            .iter()
            .filter(|b| b.mode == mode && b.rate.to_bits() == rate)
            .collect();
        s.lead.push(sentence(summary, &judged));
    }
    let mut header = vec!["budget".to_string()];
    header.extend(
        columns
            .iter()
            .map(|&(mode, rate)| format!("{mode} @ {} req/s", fmt_rate(f64::from_bits(rate)))),
    );
    s.table = Some(Table {
        header,
        links: Vec::new(),
        rows: budgets
            .iter()
            .map(|label| {
                let mut row = vec![label.clone()];
                row.extend(columns.iter().map(|&column| {
                    find(column, label).map_or_else(
                        || "-".to_string(),
                        |b| format!("{} {}", verdict_cell(b.verdict), short_value(b)),
                    )
                }));
                row
            })
            .collect(),
    });
    s
}

/// `on at 100 req/s: latency +0.10 ms p50, +0.40 ms p99; CPU +0.4 pp gateway; memory +1.5 MB
/// gateway; every request traced: within budget.`
fn sentence(summary: &Summary, judged: &[&BudgetResult]) -> String {
    let Some(first) = judged.first() else {
        return String::new();
    };
    let values = |kind: fn(&BudgetKind) -> Option<&str>, unit: &str, d: usize| {
        let parts: Vec<String> = judged
            .iter()
            .filter_map(|b| {
                let what = kind(&b.budget)?;
                let e = b.overhead?;
                Some(format!("{:+.d$} {unit} {what}", e.value))
            })
            .collect();
        parts.join(", ")
    };
    let mut parts = Vec::new();
    let groups: [(&str, String); 4] = [
        (
            "latency",
            values(
                |k| match k {
                    BudgetKind::Latency { percentile } => Some(percentile),
                    _ => None,
                },
                "ms",
                2,
            ),
        ),
        (
            "CPU",
            values(
                |k| match k {
                    BudgetKind::Cpu { service } => Some(service),
                    _ => None,
                },
                "pp",
                1,
            ),
        ),
        (
            "memory",
            values(
                |k| match k {
                    BudgetKind::Memory { service } => Some(service),
                    _ => None,
                },
                "MB",
                1,
            ),
        ),
        (
            "errors",
            values(
                |k| match k {
                    BudgetKind::Errors => Some(""),
                    _ => None,
                },
                "pp",
                2,
            ),
        ),
    ];
    for (name, text) in groups {
        if !text.is_empty() {
            parts.push(format!("{name} {}", text.trim_end()));
        }
    }
    let volume = judged
        .iter()
        .find(|b| matches!(b.budget, BudgetKind::TraceVolume { .. }));
    if let Some(b) = volume
        && let (BudgetKind::TraceVolume { service }, Some(t)) = (&b.budget, b.traces)
    {
        let ratio = sampling_ratio(summary, &b.mode).unwrap_or(0.0);
        parts.push(match b.verdict {
            Verdict::Pass if ratio >= 1.0 => "every request traced".to_string(),
            Verdict::Pass if ratio > 0.0 => format!(
                "{} traces at {service}, as sampling {ratio} expects",
                t.observed
            ),
            Verdict::Pass => "no traces, as expected".to_string(),
            _ => format!(
                "{} traces at {service} where {:.0} were expected",
                t.observed, t.expected
            ),
        });
    }
    let failed = labels(judged, Verdict::Fail);
    let undecided = labels(judged, Verdict::Inconclusive);
    let verdict = if !failed.is_empty() {
        format!("over budget on {}", failed.join(", "))
    } else if !undecided.is_empty() {
        format!(
            "not decided on {} (within budget elsewhere)",
            undecided.join(", ")
        )
    } else {
        "within budget".to_string()
    };
    format!(
        "{} at {} req/s: {}: {verdict}.",
        first.mode,
        fmt_rate(first.rate),
        parts.join("; ")
    )
}

fn labels(judged: &[&BudgetResult], verdict: Verdict) -> Vec<String> {
    judged
        .iter()
        .filter(|b| b.verdict == verdict)
        .map(|b| b.budget.label())
        .collect()
}

fn sampling_ratio(summary: &Summary, mode: &str) -> Option<f64> {
    let modes = &summary.results.modes;
    modes
        .iter()
        .find(|m| m.name == mode)
        .map(|m| m.sampling_ratio)
}

/// The overhead in a few characters: `+0.06 ms`, `+0.4 pp`, `1000/1000 traces`.
fn short_value(b: &BudgetResult) -> String {
    match (&b.budget, &b.traces, &b.overhead) {
        (BudgetKind::TraceVolume { .. }, Some(t), _) => {
            format!("{}/{:.0} traces", t.observed, t.expected)
        }
        (_, _, Some(e)) => format!(
            "{:+.d$} {}",
            e.value,
            b.budget.unit(),
            d = decimals(&b.budget).min(2)
        ),
        _ => "not measured".to_string(),
    }
}
