//! Traces observed against traces expected.
//!
//! Each ok request starts one root trace, which a sampler with ratio p keeps independently with
//! probability p (trace IDs are random), so the count kept of n requests is Binomial(n, p).
//! Expected = n p. The acceptance interval is n p +- z99 sqrt(n p (1 - p)), widened by the
//! configured relative tolerance. An observed count lies inside it exactly when p lies inside the
//! 99% Wilson score interval of observed / n (Wilson's interval is the inversion of this score
//! test), so "within the binomial 99% interval" and "the Wilson interval covers the ratio" are the
//! same rule. For p = 0 and p = 1 the interval collapses to n p: only the tolerance allows slack.

use super::stats::Z99;
use super::{BudgetKind, BudgetResult, Estimate, TraceCheck, TraceSummary, Verdict};
use crate::results::{CellResult, RunResults};

/// Counted traces per service for a group's cells; empty when traces were not counted.
pub fn summaries(results: &RunResults, cells: &[&CellResult], ratio: f64) -> Vec<TraceSummary> {
    let Some(traces) = &results.traces else {
        return vec![];
    };
    let mut services: Vec<&str> = Vec::new();
    for t in &traces.cells {
        if !services.contains(&t.service.as_str()) {
            services.push(&t.service);
        }
    }
    services
        .into_iter()
        .filter_map(|service| {
            let counted: Vec<(&CellResult, u64)> = cells
                .iter()
                .filter_map(|c| {
                    let t = traces.cells.iter().find(|t| {
                        t.service == service && c.is(&t.mode, t.rate, t.round, t.replicate)
                    })?;
                    Some((*c, t.observed))
                })
                .collect();
            if counted.is_empty() {
                return None;
            }
            let ok: u64 = counted.iter().map(|(c, _)| c.ok).sum();
            let observed: u64 = counted.iter().map(|&(_, n)| n).sum();
            let minutes: f64 = counted
                .iter()
                .map(|(c, _)| (c.window_end_unix_ms - c.window_start_unix_ms) as f64 / 60_000.0)
                .sum();
            let expected = expected_count(ok, ratio);
            let per_minute = |n: f64| if minutes > 0.0 { n / minutes } else { 0.0 };
            Some(TraceSummary {
                service: service.to_string(),
                observed,
                expected,
                observed_per_minute: per_minute(observed as f64),
                expected_per_minute: per_minute(expected.value),
            })
        })
        .collect()
}

/// n p with its 99% binomial interval, clamped to [0, n].
fn expected_count(n: u64, p: f64) -> Estimate {
    let n = n as f64;
    let p = p.clamp(0.0, 1.0);
    let half = Z99 * (n * p * (1.0 - p)).sqrt();
    Estimate::new(n * p, (n * p - half).max(0.0), (n * p + half).min(n))
}

/// The trace-volume verdict of one service in a group.
pub fn check(mode: &str, rate: f64, summary: &TraceSummary, tolerance: f64) -> BudgetResult {
    let e = summary.expected;
    let accept_low = (e.low - tolerance * e.value).max(0.0);
    let accept_high = e.high + tolerance * e.value;
    let observed = summary.observed;
    let inside = (accept_low..=accept_high).contains(&(observed as f64));
    let overhead = (e.value > 0.0).then(|| {
        Estimate::new(
            observed as f64 / e.value,
            accept_low / e.value,
            accept_high / e.value,
        )
    });
    BudgetResult {
        mode: mode.to_string(),
        rate,
        budget: BudgetKind::TraceVolume {
            service: summary.service.clone(),
        },
        limit: tolerance,
        overhead,
        verdict: if inside { Verdict::Pass } else { Verdict::Fail },
        in_expected_range: None,
        traces: Some(TraceCheck {
            observed,
            expected: e.value,
            accept_low,
            accept_high,
        }),
        note: Some(format!(
            "observed {observed} traces, expected {:.0} (accepted {:.0} to {:.0})",
            e.value, accept_low, accept_high
        )),
    }
}

/// The verdict when traces were not counted for a group.
pub fn not_counted(mode: &str, rate: f64, tolerance: f64) -> BudgetResult {
    BudgetResult {
        mode: mode.to_string(),
        rate,
        budget: BudgetKind::TraceVolume {
            service: "all".into(),
        },
        limit: tolerance,
        overhead: None,
        verdict: Verdict::Inconclusive,
        in_expected_range: None,
        traces: None,
        note: Some("traces were not counted for this mode and rate".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(observed: u64, ok: u64, ratio: f64) -> TraceSummary {
        TraceSummary {
            service: "gateway".into(),
            observed,
            expected: expected_count(ok, ratio),
            observed_per_minute: 0.0,
            expected_per_minute: 0.0,
        }
    }

    fn verdict(observed: u64, ok: u64, ratio: f64, tolerance: f64) -> Verdict {
        check("m", 1.0, &summary(observed, ok, ratio), tolerance).verdict
    }

    #[test]
    fn full_and_zero_sampling_must_be_exact_without_tolerance() {
        assert_eq!(verdict(600, 600, 1.0, 0.0), Verdict::Pass);
        assert_eq!(verdict(599, 600, 1.0, 0.0), Verdict::Fail);
        assert_eq!(verdict(597, 600, 1.0, 0.01), Verdict::Pass);
        assert_eq!(verdict(0, 600, 0.0, 0.0), Verdict::Pass);
        let off = check("off", 1.0, &summary(1, 600, 0.0), 0.0);
        assert_eq!(off.verdict, Verdict::Fail);
        assert!(off.overhead.is_none());
    }

    #[test]
    fn sampled_counts_are_judged_against_the_binomial_interval() {
        // n = 10000, p = 0.1: sd = 30, 99% half-width = 77.3.
        assert_eq!(verdict(1070, 10_000, 0.1, 0.0), Verdict::Pass);
        assert_eq!(verdict(930, 10_000, 0.1, 0.0), Verdict::Pass);
        assert_eq!(verdict(900, 10_000, 0.1, 0.0), Verdict::Fail);
        let r = check("s", 1.0, &summary(1000, 10_000, 0.1), 0.0);
        let o = r.overhead.unwrap();
        assert!(o.value == 1.0 && (o.high - 1.0773).abs() < 1e-3, "{o:?}");
    }
}
