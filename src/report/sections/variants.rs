//! Builds side by side: each candidate against the base, per mode and budget, the difference of
//! the absolute figure and of the overhead with its interval and threshold. In a run of variants
//! this is the answer (it decides the exit code), so it opens the report.

use super::verdicts::decimals;
use super::*;

pub(super) fn variants(summary: &Summary) -> Option<Section> {
    let v = summary.analysis.variants.as_ref()?;
    let mut s = Section::new(Topic::Variants, format!("Candidate against {}", v.base));
    let regressions: Vec<String> = v
        .rows
        .iter()
        .filter(|r| r.regression)
        .map(|r| format!("{} {} ({})", r.candidate, subject(r), r.mode))
        .collect();
    s.lead.push(if regressions.is_empty() {
        format!(
            "No regression: no difference from {} lies wholly beyond its threshold ({} \
             figures compared).",
            v.base,
            v.rows.len()
        )
    } else {
        format!(
            "REGRESSION in {} of {} figures: {}.",
            regressions.len(),
            v.rows.len(),
            regressions.join("; ")
        )
    });
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "candidate",
            "mode",
            "rate (req/s)",
            "figure",
            "base",
            "difference [95% CI]",
            "threshold",
            "regression",
        ]),
        rows: v
            .rows
            .iter()
            .map(|r| {
                let d = decimals(&r.budget);
                vec![
                    r.candidate.clone(),
                    r.mode.clone(),
                    fmt_rate(r.rate),
                    subject(r),
                    r.base_value
                        .filter(|_| !r.overhead)
                        .map_or("-".into(), |b| format!("{b:.d$}")),
                    r.difference.as_ref().map_or("no interval".into(), |e| {
                        format!("{} {}", fmt_estimate(e, d), r.budget.unit())
                    }),
                    format!("{:.d$} ({})", r.threshold, r.threshold_key),
                    if r.regression { "**yes**" } else { "no" }.into(),
                ]
            })
            .collect(),
    });
    s.paragraphs.push(format!("Method: {}.", v.method));
    Some(s)
}

/// `latency p50` or `overhead of latency p50`.
fn subject(r: &crate::analysis::VariantRow) -> String {
    if r.overhead {
        format!("overhead of {}", r.budget.label())
    } else {
        r.budget.label()
    }
}
