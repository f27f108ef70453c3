//! Baseline run(s) against a candidate run, for CI: per mode, rate and figure, the change and
//! whether it is a regression.
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
//! Thresholds are absolute (in the figure's unit) or, for absolute figures only, relative to the
//! baseline's point (`10%`): an overhead sits near 0, where a share of it is no margin.
//!
//! Several baseline runs: within a run the rounds share the machine's conditions, so two runs'
//! standard errors miss the variation between runs (a CPU overhead moving by about 0.3 pp from
//! run to run against a standard error near 0.08 pp). From 3 baseline runs on, each figure's
//! variance between runs is estimated and counted in the baseline and in the candidate (see
//! [`Pooled`]); with fewer the comparison says that it is unknown.

mod markdown;
mod summary_file;

use crate::analysis::thresholds::round;
pub use crate::analysis::thresholds::{Figure, Limit, Thresholds};
use crate::analysis::{
    Analysis, Estimate, GroupSummary, Summary, between_run_variance, welch_difference,
};
pub use summary_file::{load_summary, run_paths};

/// One figure of one mode at one rate in the baseline run(s) and the candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub mode: String,
    pub rate: f64,
    pub figure: Figure,
    /// What the figure is about beyond its kind: a service, or a budget's label.
    pub subject: Option<String>,
    /// The baseline runs' figure: one run's estimate, or several runs' pooled (see [`Pooled`]).
    pub baseline: Estimate,
    /// How many baseline runs measured it.
    pub baseline_runs: usize,
    /// The standard deviation between runs, estimated from 3 or more baseline runs.
    pub between_runs_sd: Option<f64>,
    pub candidate: Estimate,
    /// Candidate minus baseline, with its Welch interval when both have a standard error (the
    /// variation between runs included where it was estimated).
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
        baselines: &[Estimate],
        candidate: Estimate,
        rule: &Rule,
    ) -> Row {
        let pooled = Pooled::of(baselines);
        let baseline = pooled.estimate;
        let limit = rule.thresholds.get(figure);
        let margin = limit.amount(baseline.value);
        let change = welch_difference(&pooled.as_one_run(candidate), &baseline);
        // Without a standard error, the runs' own intervals (an error rate's Wilson interval)
        // must all exist: bare points (one-round runs) say nothing about noise.
        let intervals = baselines.iter().all(Estimate::has_interval) && candidate.has_interval();
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
            baseline_runs: baselines.len(),
            between_runs_sd: pooled.between.map(|b| b.variance.sqrt()),
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

/// The fewest baseline runs from which the variation between runs is estimated.
pub const BETWEEN_RUNS_FROM: usize = 3;

/// The variance between runs of one figure and the runs it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Between {
    variance: f64,
    runs: usize,
}

/// Several baseline runs of one figure as one estimate of where an unchanged run would land.
///
/// Within a run the rounds share the machine's conditions, so one run's standard error holds the
/// variation between rounds only; between runs the machine is slower or busier. From
/// [`BETWEEN_RUNS_FROM`] runs on, that variance between runs is estimated (the spread of their
/// estimates beyond their own standard errors) and counted twice: in the pooled baseline (a
/// weighted mean whose weights hold it) and in the candidate, itself one more run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pooled {
    estimate: Estimate,
    between: Option<Between>,
}

impl Pooled {
    fn of(runs: &[Estimate]) -> Pooled {
        let with_se: Vec<(f64, f64, f64)> = runs
            .iter()
            .filter_map(|e| Some((e.value, e.se?, e.df?)))
            .collect();
        if let [one] = runs {
            return Pooled {
                estimate: *one,
                between: None,
            };
        }
        if with_se.len() < runs.len() || runs.is_empty() {
            // Some run has no standard error: the baseline spans every run's interval.
            let n = runs.len().max(1) as f64;
            let value = runs.iter().map(|e| e.value).sum::<f64>() / n;
            let low = runs.iter().map(|e| e.low).fold(f64::INFINITY, f64::min);
            let high = runs
                .iter()
                .map(|e| e.high)
                .fold(f64::NEG_INFINITY, f64::max);
            return Pooled {
                estimate: Estimate::new(value, low.min(value), high.max(value)),
                between: None,
            };
        }
        let between = (runs.len() >= BETWEEN_RUNS_FROM).then(|| Between {
            variance: between_run_variance(&with_se.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>()),
            runs: runs.len(),
        });
        let tau2 = between.map_or(0.0, |b| b.variance);
        let weights: Vec<f64> = with_se
            .iter()
            .map(|r| {
                let v = r.1 * r.1 + tau2;
                if v > 0.0 { 1.0 / v } else { 1.0 }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let value = with_se
            .iter()
            .zip(&weights)
            .map(|(r, w)| r.0 * w)
            .sum::<f64>()
            / total;
        let se = if tau2 > 0.0 || with_se.iter().any(|r| r.1 > 0.0) {
            (1.0 / total).sqrt()
        } else {
            0.0
        };
        // With a variance between runs the runs are the replicates; else their rounds are.
        let df = match between {
            Some(b) if b.variance > 0.0 => (b.runs - 1) as f64,
            _ => with_se.iter().map(|r| r.2).sum(),
        };
        Pooled {
            estimate: Estimate::with_se(value, se, df),
            between,
        }
    }

    /// The candidate as one more run: its standard error widened by the variance between runs,
    /// with Welch-Satterthwaite degrees of freedom.
    fn as_one_run(&self, candidate: Estimate) -> Estimate {
        let (Some(b), Some(se), Some(df)) = (self.between, candidate.se, candidate.df) else {
            return candidate;
        };
        if b.variance <= 0.0 {
            return candidate;
        }
        let (v, tau2) = (se * se, b.variance);
        let runs_df = (b.runs - 1) as f64;
        let widened_df = (v + tau2).powi(2) / (v * v / df.max(1.0) + tau2 * tau2 / runs_df);
        Estimate::with_se(candidate.value, (v + tau2).sqrt(), widened_df)
    }
}

/// Every figure the candidate and at least one baseline run have, and what only one side has.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// How many baseline runs were given.
    pub baseline_runs: usize,
    /// Modes and rates measured on one side only (not judged).
    pub unmatched: Vec<String>,
    /// Where a baseline run's machine or programs differed from the candidate's.
    pub differences: Vec<String>,
}

/// How rows are judged: the thresholds, and whether absolute figures gate too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub thresholds: Thresholds,
    /// Absolute figures (p50, p99, throughput, CPU, memory) decide the exit code too.
    pub gate_absolute: bool,
}

/// Compares every mode and rate the candidate shares with the baseline runs, and says where
/// their machines or programs differed.
pub fn compare(baselines: &[Summary], candidate: &Summary, rule: &Rule) -> Comparison {
    let analyses: Vec<&Analysis> = baselines.iter().map(|b| &b.analysis).collect();
    Comparison {
        differences: differences(baselines, candidate),
        ..compare_analyses(&analyses, &candidate.analysis, rule)
    }
}

/// How far apart the share of CPU stolen by the hypervisor may be before the runs' machines count
/// as different, points.
const STEAL_DIFFERENCE_PP: f64 = 1.0;

/// What differs between each baseline run's environment and the candidate's, one line each.
fn differences(baselines: &[Summary], candidate: &Summary) -> Vec<String> {
    let c = &candidate.results;
    let mut out = Vec::new();
    for (i, b) in baselines.iter().enumerate() {
        let b = &b.results;
        let mut lines = b.environment.differences(&c.environment);
        if let (Some(sb), Some(sc)) = (b.steal_pct(), c.steal_pct())
            && (sb - sc).abs() > STEAL_DIFFERENCE_PP
        {
            lines.push(format!("cpu stolen by the hypervisor: {sb:.1}% / {sc:.1}%"));
        }
        for line in lines {
            out.push(format!("baseline {} / candidate: {line}", i + 1));
        }
    }
    out
}

/// [`compare`] on the analyses alone.
fn compare_analyses(baselines: &[&Analysis], candidate: &Analysis, rule: &Rule) -> Comparison {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    fn find<'a>(a: &'a Analysis, g: &GroupSummary) -> Option<&'a GroupSummary> {
        a.groups
            .iter()
            .find(|x| x.mode == g.mode && x.rate == g.rate)
    }
    for cand in &candidate.groups {
        let bases: Vec<&GroupSummary> = baselines.iter().filter_map(|b| find(b, cand)).collect();
        if bases.is_empty() {
            unmatched.push(format!(
                "{} at {} rps: only in the candidate",
                cand.mode, cand.rate
            ));
            continue;
        }
        group_rows(&bases, cand, rule, &mut rows);
        overhead_rows(baselines, candidate, cand, rule, &mut rows);
    }
    for base in baselines.iter().flat_map(|b| &b.groups) {
        let line = format!("{} at {} rps: only in the baseline", base.mode, base.rate);
        if find(candidate, base).is_none() && !unmatched.contains(&line) {
            unmatched.push(line);
        }
    }
    Comparison {
        rows,
        baseline_runs: baselines.len(),
        unmatched,
        differences: Vec::new(),
    }
}

fn group_rows(bases: &[&GroupSummary], cand: &GroupSummary, t: &Rule, rows: &mut Vec<Row>) {
    let key = (cand.mode.as_str(), cand.rate);
    let percent = |e: Estimate| Estimate::new(e.value * 100.0, e.low * 100.0, e.high * 100.0);
    let mut push =
        |figure, subject: Option<String>, of: &dyn Fn(&GroupSummary) -> Option<Estimate>| {
            let Some(c) = of(cand) else { return };
            let b: Vec<Estimate> = bases.iter().filter_map(|g| of(g)).collect();
            if !b.is_empty() {
                rows.push(Row::new(key, figure, subject, &b, c, t));
            }
        };
    push(Figure::P50, None, &|g| Some(g.latency_ms.p50));
    push(Figure::P99, None, &|g| Some(g.latency_ms.p99));
    push(Figure::Throughput, None, &|g| Some(g.throughput_rps));
    push(Figure::Errors, None, &|g| Some(percent(g.error_rate)));
    for cs in &cand.services {
        let name = cs.service.as_str();
        let subject = || Some(cs.service.clone());
        push(Figure::Cpu, subject(), &|g| service(g, name)?.cpu_pct);
        push(Figure::Memory, subject(), &|g| {
            service(g, name)?.memory_mean_mb
        });
    }
}

/// A group's figures for one service.
fn service<'g>(g: &'g GroupSummary, name: &str) -> Option<&'g crate::analysis::ServiceSummary> {
    g.services.iter().find(|s| s.service == name)
}

/// The overhead of every latency, CPU and memory budget of this mode and rate.
fn overhead_rows(
    baselines: &[&Analysis],
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
        let b: Vec<Estimate> = baselines
            .iter()
            .filter_map(|a| {
                a.budgets
                    .iter()
                    .find(|b| b.mode == cb.mode && b.rate == cb.rate && b.budget == cb.budget)?
                    .overhead
            })
            .collect();
        if let (false, Some(c)) = (b.is_empty(), cb.overhead) {
            let subject = Some(cb.budget.label());
            rows.push(Row::new((&g.mode, g.rate), figure, subject, &b, c, t));
        }
    }
}

/// Three significant decimals at most, without trailing zeros.
fn interval(e: Estimate) -> String {
    format!("{} [{}, {}]", round(e.value), round(e.low), round(e.high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::standard_normal as normal;

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
        assert!(err("cpu-overhead=10%").contains("an overhead's threshold is absolute"));
    }

    /// Share of simulated comparisons of a CPU overhead that regress: each run's estimate moves
    /// by `between` (sd) from run to run and has a standard error of 0.08 pp on 7 df (8 rounds);
    /// `k` baseline runs, a candidate `shift` above them, the default 0.5 pp margin.
    fn regressions(k: usize, between: f64, shift: f64, seed: u64) -> f64 {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let rule = Rule::default();
        let runs = 4000;
        let mut regressed = 0;
        for _ in 0..runs {
            let mut run = |shift: f64| {
                let value = 0.6 + shift + between * normal(&mut rng) + 0.08 * normal(&mut rng);
                Estimate::with_se(value, 0.08, 7.0)
            };
            let baselines: Vec<Estimate> = (0..k).map(|_| run(0.0)).collect();
            let candidate = run(shift);
            let row = Row::new(
                ("on", 200.0),
                Figure::CpuOverhead,
                None,
                &baselines,
                candidate,
                &rule,
            );
            regressed += usize::from(row.regression);
        }
        regressed as f64 / f64::from(runs)
    }

    /// The problem reproduced (one baseline run: about 15% of unchanged rows regress at a
    /// run-to-run sd of 0.5 pp against a standard error of 0.08), and what three baseline runs
    /// do about it (about 1.3%), with the power to see a real change kept.
    #[test]
    fn several_baseline_runs_stop_false_regressions_from_the_variation_between_runs() {
        let one = regressions(1, 0.5, 0.0, 1);
        let three = regressions(3, 0.5, 0.0, 2);
        eprintln!("unchanged, sd 0.5 between runs: 1 baseline {one}, 3 baselines {three}");
        assert!(one > 0.10, "one baseline run: {one}");
        assert!(three < 0.02, "three baseline runs: {three}");
        // Little variation between runs: a 2 pp regression is still found.
        let found = regressions(3, 0.05, 2.0, 3);
        eprintln!("+2 pp, sd 0.05 between runs, 3 baselines: {found}");
        assert!(found > 0.95, "{found}");
        // The sd between runs is estimated and shown.
        let e = |v| Estimate::with_se(v, 0.08, 7.0);
        let row = Row::new(
            ("on", 200.0),
            Figure::CpuOverhead,
            None,
            &[e(0.3), e(1.3), e(0.8)],
            e(0.8),
            &Rule::default(),
        );
        let sd = row.between_runs_sd.unwrap();
        assert!((sd - (0.25f64 - 0.0064).sqrt()).abs() < 1e-9, "{sd}");
        assert!((row.baseline.value - 0.8).abs() < 1e-9);
        assert_eq!(row.baseline_runs, 3);
    }

    #[test]
    fn a_change_regresses_when_its_welch_interval_lies_beyond_the_threshold() {
        let t = Rule::default();
        let key = ("on", 100.0);
        // Four rounds each, se 0.2 ms: the change's se is 0.28 ms, df 6, t 2.447, so its
        // interval is the change +- 0.69 ms; the threshold on a latency overhead is 0.5 ms.
        let e = |value| Estimate::with_se(value, 0.2, 3.0);
        let row =
            |base, cand| Row::new(key, Figure::LatencyOverhead, None, &[e(base)], e(cand), &t);
        assert!(row(0.1, 1.4).regression, "{:?}", row(0.1, 1.4).change);
        assert!(!row(0.1, 1.1).regression);
        assert!(!row(0.1, 0.1).regression);
        // Without standard errors: the candidate's interval beyond the widened baseline's.
        let p = |value, low, high| Estimate::new(value, low, high);
        let base = p(10.0, 9.0, 11.0);
        let abs = |cand| Row::new(key, Figure::P99, None, &[base], cand, &t);
        assert!(abs(p(13.0, 12.1, 14.0)).beyond);
        assert!(!abs(p(13.0, 11.9, 14.0)).beyond);
        // Two bare points (one-round runs) are never beyond, however far apart.
        let point = Estimate::point;
        assert!(!Row::new(key, Figure::P99, None, &[point(10.0)], point(50.0), &t).beyond);
        // Absolute figures are flagged but gate only when asked to.
        assert!(!abs(p(13.0, 12.1, 14.0)).regression);
        let gate = Rule {
            gate_absolute: true,
            ..Rule::default()
        };
        assert!(Row::new(key, Figure::P99, None, &[base], p(13.0, 12.1, 14.0), &gate).regression);
        // Throughput regresses downwards.
        let base = p(105.0, 100.0, 110.0);
        let thr = |cand| Row::new(key, Figure::Throughput, None, &[base], cand, &gate).regression;
        assert!(thr(p(90.0, 88.0, 94.0)));
        assert!(!thr(p(130.0, 120.0, 140.0)));
    }
}
