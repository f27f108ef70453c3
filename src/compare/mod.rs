//! Baseline run against candidate run, for CI: per mode, rate and figure, the change and whether
//! it is a regression.
//!
//! Rule: the change (candidate minus baseline) gets a 95% Welch interval from both runs' standard
//! errors, which rest on their rounds (restarts), so the variation between rounds of both runs is
//! inside it; a figure regresses only when that whole interval lies beyond the threshold (for a
//! figure where higher is worse: `change.low > threshold`; for throughput, mirrored). A figure
//! without a standard error (an error rate's Wilson interval) falls back to "the candidate's
//! interval lies entirely beyond the baseline's, widened by the threshold"; a figure without any
//! interval (a one-round run) is never beyond.
//!
//! What gates the exit code: the overheads (mode minus baseline mode, measured in the same run),
//! because drift of the machine between the two runs cancels in them, and the error rate. Absolute
//! latency, throughput, CPU and memory move with whatever else the machine did during each run,
//! which two runs cannot estimate: they are shown, and flagged when beyond the threshold, but
//! gate only with `--gate-absolute` (for two runs on the same quiet, dedicated machine).
//! Thresholds are absolute (in the figure's unit) or relative to the baseline's point (`10%`).

mod markdown;
mod summary_file;
mod thresholds;

use crate::analysis::{Analysis, Estimate, GroupSummary, welch_difference};
pub use summary_file::load_summary;
pub use thresholds::{Figure, Limit, Thresholds};

/// One figure of one mode at one rate in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub mode: String,
    pub rate: f64,
    pub figure: Figure,
    /// What the figure is about beyond its kind: a service, or a budget's label.
    pub subject: Option<String>,
    pub baseline: Estimate,
    pub candidate: Estimate,
    /// Candidate minus baseline, with its Welch interval when both have a standard error.
    pub change: Estimate,
    pub limit: Limit,
    /// The change lies beyond the threshold (see the module doc for the rule).
    pub beyond: bool,
    /// `beyond` on a figure that decides the exit code: a regression.
    pub regression: bool,
}

impl Row {
    fn new(
        key: (&str, f64),
        figure: Figure,
        subject: Option<String>,
        baseline: Estimate,
        candidate: Estimate,
        rule: &Rule,
    ) -> Row {
        let limit = rule.thresholds.get(figure);
        let margin = limit.amount(baseline.value);
        let change = welch_difference(&candidate, &baseline);
        // Without a standard error, the two runs' own intervals (an error rate's Wilson interval)
        // must both exist: two bare points (a one-round run) say nothing about noise.
        let intervals = baseline.has_interval() && candidate.has_interval();
        let beyond = match (change.se.is_some(), figure.higher_is_worse()) {
            (true, true) => change.low > margin,
            (true, false) => change.high < -margin,
            (false, true) => intervals && candidate.low > baseline.high + margin,
            (false, false) => intervals && candidate.high < baseline.low - margin,
        };
        let gated = rule.gate_absolute || figure.gates_by_default();
        Row {
            mode: key.0.to_string(),
            rate: key.1,
            figure,
            subject,
            baseline,
            candidate,
            change,
            limit,
            beyond,
            regression: beyond && gated,
        }
    }

    fn label(&self) -> String {
        let name = match self.figure {
            Figure::P50 => "latency p50",
            Figure::P99 => "latency p99",
            Figure::Throughput => "throughput",
            Figure::Errors => "error rate",
            Figure::Cpu => "cpu",
            Figure::Memory => "memory",
            Figure::LatencyOverhead
            | Figure::CpuOverhead
            | Figure::MemoryOverhead
            | Figure::ErrorsOverhead => "overhead",
        };
        let unit = self.figure.value_unit();
        match &self.subject {
            Some(s) => format!("{name} {s} ({unit})"),
            None => format!("{name} ({unit})"),
        }
    }
}

/// Every figure both runs have, and what only one of them has.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Modes and rates measured in only one run (not judged).
    pub unmatched: Vec<String>,
}

/// How rows are judged: the thresholds, and whether absolute figures gate too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub thresholds: Thresholds,
    /// Absolute figures (p50, p99, throughput, CPU, memory) decide the exit code too.
    pub gate_absolute: bool,
}

/// Compares every mode and rate the two analyses share.
pub fn compare(baseline: &Analysis, candidate: &Analysis, thresholds: &Rule) -> Comparison {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    fn find<'a>(a: &'a Analysis, g: &GroupSummary) -> Option<&'a GroupSummary> {
        a.groups
            .iter()
            .find(|x| x.mode == g.mode && x.rate == g.rate)
    }
    for cand in &candidate.groups {
        let Some(base) = find(baseline, cand) else {
            unmatched.push(format!(
                "{} at {} rps: only in the candidate",
                cand.mode, cand.rate
            ));
            continue;
        };
        group_rows(base, cand, thresholds, &mut rows);
        overhead_rows(baseline, candidate, cand, thresholds, &mut rows);
    }
    for base in &baseline.groups {
        if find(candidate, base).is_none() {
            unmatched.push(format!(
                "{} at {} rps: only in the baseline",
                base.mode, base.rate
            ));
        }
    }
    Comparison { rows, unmatched }
}

fn group_rows(base: &GroupSummary, cand: &GroupSummary, t: &Rule, rows: &mut Vec<Row>) {
    let key = (cand.mode.as_str(), cand.rate);
    let percent = |e: Estimate| Estimate::new(e.value * 100.0, e.low * 100.0, e.high * 100.0);
    let (bl, cl) = (&base.latency_ms, &cand.latency_ms);
    rows.push(Row::new(key, Figure::P50, None, bl.p50, cl.p50, t));
    rows.push(Row::new(key, Figure::P99, None, bl.p99, cl.p99, t));
    let (bt, ct) = (base.throughput_rps, cand.throughput_rps);
    rows.push(Row::new(key, Figure::Throughput, None, bt, ct, t));
    let (be, ce) = (percent(base.error_rate), percent(cand.error_rate));
    rows.push(Row::new(key, Figure::Errors, None, be, ce, t));
    for cs in &cand.services {
        let Some(bs) = base.services.iter().find(|s| s.service == cs.service) else {
            continue;
        };
        let subject = || Some(cs.service.clone());
        if let (Some(b), Some(c)) = (bs.cpu_pct, cs.cpu_pct) {
            rows.push(Row::new(key, Figure::Cpu, subject(), b, c, t));
        }
        if let (Some(b), Some(c)) = (bs.memory_mean_mb, cs.memory_mean_mb) {
            rows.push(Row::new(key, Figure::Memory, subject(), b, c, t));
        }
    }
}

/// The overhead of every latency, CPU and memory budget of this mode and rate.
fn overhead_rows(
    baseline: &Analysis,
    candidate: &Analysis,
    g: &GroupSummary,
    t: &Rule,
    rows: &mut Vec<Row>,
) {
    use crate::analysis::BudgetKind;
    for cb in candidate
        .budgets
        .iter()
        .filter(|b| b.mode == g.mode && b.rate == g.rate)
    {
        let figure = match cb.budget {
            BudgetKind::Latency { .. } => Figure::LatencyOverhead,
            BudgetKind::Cpu { .. } => Figure::CpuOverhead,
            BudgetKind::Memory { .. } => Figure::MemoryOverhead,
            BudgetKind::Errors => Figure::ErrorsOverhead,
            BudgetKind::TraceVolume { .. } | BudgetKind::Completeness { .. } => continue,
        };
        let bb = baseline
            .budgets
            .iter()
            .find(|b| b.mode == cb.mode && b.rate == cb.rate && b.budget == cb.budget);
        if let (Some(b), Some(c)) = (bb.and_then(|b| b.overhead), cb.overhead) {
            let subject = Some(cb.budget.label());
            rows.push(Row::new((&g.mode, g.rate), figure, subject, b, c, t));
        }
    }
}

/// Three significant decimals at most, without trailing zeros.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn interval(e: Estimate) -> String {
    format!("{} [{}, {}]", round(e.value), round(e.low), round(e.high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_percentages_and_units() {
        let t =
            Thresholds::parse(&["p99=20%".into(), "cpu=0.25pp".into(), "memory=3".into()]).unwrap();
        assert_eq!(t.get(Figure::P99), Limit::Relative(0.2));
        assert_eq!(t.get(Figure::Cpu), Limit::Absolute(0.25));
        assert_eq!(t.get(Figure::Memory), Limit::Absolute(3.0));
        assert_eq!(t.get(Figure::P50), Limit::Relative(0.1));
    }

    #[test]
    fn help_lists_the_default_thresholds() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let compare = cli.find_subcommand("compare").unwrap();
        let help = compare.get_after_help().unwrap().to_string();
        for figure in Figure::ALL {
            let limit = match figure.default_limit() {
                Limit::Relative(f) => format!("{}%", round(f * 100.0)),
                Limit::Absolute(a) => format!("{}{}", round(a), figure.unit()),
            };
            let item = format!("{}={limit}", figure.key());
            assert!(help.contains(&item), "{item} missing from\n{help}");
        }
    }

    #[test]
    fn bad_thresholds_say_what_was_expected() {
        let err = |s: &str| Thresholds::parse(&[s.into()]).unwrap_err().0;
        assert!(err("p98=10%").contains("unknown figure `p98`; expected one of p50, p99"));
        assert!(err("cpu=5MB").contains("a number in pp"));
        assert!(err("memory=-1").contains("non-negative"));
        assert!(err("p99").contains("expected KEY=LIMIT"));
    }

    #[test]
    fn a_change_regresses_when_its_welch_interval_lies_beyond_the_threshold() {
        let t = Rule::default();
        let key = ("on", 100.0);
        // Four rounds each, se 0.2 ms: the change's se is 0.28 ms, df 6, t 2.447, so its
        // interval is the change +- 0.69 ms; the threshold on a latency overhead is 0.5 ms.
        let e = |value| Estimate::with_se(value, 0.2, 3.0);
        let row = |base, cand| Row::new(key, Figure::LatencyOverhead, None, e(base), e(cand), &t);
        assert!(row(0.1, 1.4).regression, "{:?}", row(0.1, 1.4).change);
        assert!(!row(0.1, 1.1).regression);
        assert!(!row(0.1, 0.1).regression);
        // Without standard errors: the candidate's interval beyond the widened baseline's.
        let p = |value, low, high| Estimate::new(value, low, high);
        let base = p(10.0, 9.0, 11.0);
        let abs = |cand| Row::new(key, Figure::P99, None, base, cand, &t);
        assert!(abs(p(13.0, 12.1, 14.0)).beyond);
        assert!(!abs(p(13.0, 11.9, 14.0)).beyond);
        // Two bare points (one-round runs) are never beyond, however far apart.
        let point = Estimate::point;
        assert!(!Row::new(key, Figure::P99, None, point(10.0), point(50.0), &t).beyond);
        // Absolute figures are flagged but gate only when asked to.
        assert!(!abs(p(13.0, 12.1, 14.0)).regression);
        let gate = Rule {
            gate_absolute: true,
            ..Rule::default()
        };
        assert!(Row::new(key, Figure::P99, None, base, p(13.0, 12.1, 14.0), &gate).regression);
        // Throughput regresses downwards.
        let base = p(105.0, 100.0, 110.0);
        let thr = |cand| Row::new(key, Figure::Throughput, None, base, cand, &gate).regression;
        assert!(thr(p(90.0, 88.0, 94.0)));
        assert!(!thr(p(130.0, 120.0, 140.0)));
    }
}
