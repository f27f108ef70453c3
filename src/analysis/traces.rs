//! Traces observed against traces expected, and how many of them are complete.
//!
//! Every request that reaches the root service starts one root trace, whatever its answer (a
//! 400 or a 500 is traced like a 200), which a sampler with ratio p keeps independently with
//! probability p (trace IDs are random), so the count kept of n requests is Binomial(n, p).
//! n is the requests that got an answer; requests that got none (timeouts, refused connections)
//! may or may not have reached it, so they widen the upper end only. Expected = n p. The acceptance interval is n p +- z99 sqrt(n p (1 - p)), widened by the
//! configured relative tolerance. An observed count lies inside it exactly when p lies inside the
//! 99% Wilson score interval of observed / n (Wilson's interval is the inversion of this score
//! test), so "within the binomial 99% interval" and "the Wilson interval covers the ratio" are the
//! same rule. For p = 0 and p = 1 the interval collapses to n p: only the tolerance allows slack.

use super::stats::Z99;
use super::{BudgetKind, BudgetResult, Estimate, TraceCheck, TraceVolume, Verdict};
use crate::results::{CellResult, CellTraces, RunResults};

/// Counted traces per service for a group's cells; empty when traces were not counted.
pub fn summaries(results: &RunResults, cells: &[&CellResult], ratio: f64) -> Vec<TraceVolume> {
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
            let counted: Vec<(&CellResult, &CellTraces)> = cells
                .iter()
                .filter_map(|c| {
                    let t = traces
                        .cells
                        .iter()
                        .find(|t| t.service == service && t.counts(c))?;
                    Some((*c, t))
                })
                .collect();
            if counted.is_empty() {
                return None;
            }
            let answered: u64 = counted.iter().map(|(c, _)| c.load.completed).sum();
            let unanswered: u64 = counted.iter().map(|(c, _)| c.unanswered()).sum();
            let observed: u64 = counted.iter().map(|(_, t)| t.observed).sum();
            let sum = |f: fn(&CellTraces) -> Option<u64>| -> Option<u64> {
                counted.iter().map(|(_, t)| f(t)).sum()
            };
            let minutes: f64 = counted
                .iter()
                .map(|(c, _)| (c.window_end_unix_ms - c.window_start_unix_ms) as f64 / 60_000.0)
                .sum();
            let expected = expected_count(answered, unanswered, ratio);
            let per_minute = |n: f64| if minutes > 0.0 { n / minutes } else { 0.0 };
            Some(TraceVolume {
                service: service.to_string(),
                observed,
                expected,
                observed_per_minute: per_minute(observed as f64),
                expected_per_minute: per_minute(expected.value),
                complete: sum(|t| t.complete),
                incomplete: sum(|t| t.incomplete),
            })
        })
        .collect()
}

/// n p with its 99% binomial interval, clamped to [0, n]; the `maybe` requests that got no
/// answer raise only the upper end (as if all of them had been traced).
fn expected_count(n: u64, maybe: u64, p: f64) -> Estimate {
    let p = p.clamp(0.0, 1.0);
    let bounds = |n: f64| {
        let half = Z99 * (n * p * (1.0 - p)).sqrt();
        ((n * p - half).max(0.0), (n * p + half).min(n))
    };
    let (low, _) = bounds(n as f64);
    let (_, high) = bounds((n + maybe) as f64);
    Estimate::new(n as f64 * p, low, high)
}

/// The trace-volume verdict of one service in a group.
pub fn check(mode: &str, rate: f64, summary: &TraceVolume, tolerance: f64) -> BudgetResult {
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
        decision: None,
        carry_over: None,
    }
}

/// The completeness verdict of one service's traces in a group: the share of counted traces
/// missing a service must stay within `limit_pct`. `None` when the store did not say, or no
/// trace was counted (nothing to judge: a mode that samples nothing).
pub fn check_complete(
    mode: &str,
    rate: f64,
    summary: &TraceVolume,
    limit_pct: f64,
) -> Option<BudgetResult> {
    let (complete, incomplete) = (summary.complete?, summary.incomplete?);
    let total = complete + incomplete;
    if total == 0 {
        return None;
    }
    let pct = 100.0 * incomplete as f64 / total as f64;
    Some(BudgetResult {
        mode: mode.to_string(),
        rate,
        budget: BudgetKind::Completeness {
            service: summary.service.clone(),
        },
        limit: limit_pct,
        overhead: Some(Estimate::point(pct)),
        verdict: if pct <= limit_pct {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        in_expected_range: None,
        traces: None,
        note: Some(format!(
            "{incomplete} of {total} traces miss a service ({pct:.2}%)"
        )),
        decision: None,
        carry_over: None,
    })
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
        decision: None,
        carry_over: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(observed: u64, ok: u64, ratio: f64) -> TraceVolume {
        TraceVolume {
            service: "gateway".into(),
            observed,
            expected: expected_count(ok, 0, ratio),
            observed_per_minute: 0.0,
            expected_per_minute: 0.0,
            complete: None,
            incomplete: None,
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

    #[test]
    fn unanswered_requests_widen_only_the_upper_end() {
        let e = expected_count(600, 10, 1.0);
        assert_eq!((e.value, e.low, e.high), (600.0, 600.0, 610.0));
        let mut s = summary(605, 600, 1.0);
        s.expected = e;
        assert_eq!(check("m", 1.0, &s, 0.0).verdict, Verdict::Pass);
        s.observed = 599;
        assert_eq!(check("m", 1.0, &s, 0.0).verdict, Verdict::Fail);
    }

    #[test]
    fn completeness_fails_on_any_broken_trace_at_zero_tolerance() {
        let mut s = summary(100, 100, 1.0);
        assert!(
            check_complete("on", 1.0, &s, 0.0).is_none(),
            "unknown: not judged"
        );
        (s.complete, s.incomplete) = (Some(100), Some(0));
        assert_eq!(
            check_complete("on", 1.0, &s, 0.0).unwrap().verdict,
            Verdict::Pass
        );
        (s.complete, s.incomplete) = (Some(99), Some(1));
        let r = check_complete("on", 1.0, &s, 0.0).unwrap();
        assert_eq!((r.verdict, r.overhead.unwrap().value), (Verdict::Fail, 1.0));
        assert_eq!(
            check_complete("on", 1.0, &s, 1.0).unwrap().verdict,
            Verdict::Pass
        );
        (s.complete, s.incomplete) = (Some(0), Some(0));
        assert!(
            check_complete("off", 1.0, &s, 0.0).is_none(),
            "nothing counted"
        );
    }
}
