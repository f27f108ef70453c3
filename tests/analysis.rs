//! The analysis on synthetic runs with known effects: each budget kind passes, fails and is
//! inconclusive where it should, the noise floor of an A/A run is near zero, and the outcome
//! maps to the documented exit codes. The generator is seeded, so each case is deterministic;
//! the effects are sized so the verdict does not hinge on the seed (see each comment).

use testkit::analysis::{ModeSpec, RunSpec, generate};
use tracebench::analysis::{Analysis, BudgetKind, BudgetResult, Summary, Verdict, analyze};
use tracebench::exit::Exit;

fn with_on(on: ModeSpec) -> RunSpec {
    RunSpec {
        modes: vec![ModeSpec::new("off", 0.0), on],
        ..RunSpec::default()
    }
}

fn find<'a>(a: &'a Analysis, mode: &str, label: &str) -> &'a BudgetResult {
    a.budgets
        .iter()
        .find(|b| b.mode == mode && b.budget.label() == label)
        .unwrap_or_else(|| panic!("no {label} budget for {mode} in {:#?}", a.budgets))
}

#[test]
fn two_ms_added_latency_fails_and_none_passes() {
    // 6 rounds x 30 s x 100 rps per mode, cells shifted by 0.05 ms (sd) restart to restart: the
    // per-round differences spread by well under 0.1 ms, so the model's interval (7 degrees of freedom) is a few
    // tenths of a ms wide, far from the 1 ms limit on either side.
    let slow = analyze(&generate(&with_on(ModeSpec {
        added_latency_ms: 2.0,
        ..ModeSpec::new("on", 1.0)
    })));
    for p in ["latency p50", "latency p99"] {
        let b = find(&slow, "on", p);
        assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
        let e = b.overhead.unwrap();
        assert!(
            e.low > 1.0 && e.low <= e.value && e.value <= e.high,
            "{e:?}"
        );
        assert!((e.value - 2.0).abs() < 0.3, "{e:?}");
        // 18 cells less 6 rounds, 2 treatment, 2 position and 1 carry-over terms.
        assert_eq!(
            e.df,
            Some(7.0),
            "the crossover model's residual degrees of freedom"
        );
    }
    assert_eq!(slow.outcome, Verdict::Fail);
    assert_eq!(slow.exit(), Exit::Fail);

    let same = analyze(&generate(&with_on(ModeSpec::new("on", 1.0))));
    for p in ["latency p50", "latency p99"] {
        let b = find(&same, "on", p);
        assert_eq!(b.verdict, Verdict::Pass, "{b:#?}");
        let e = b.overhead.unwrap();
        assert!(e.low < 0.3 && e.high > -0.3 && e.high < 1.0, "{e:?}");
    }
    assert_eq!(same.outcome, Verdict::Pass, "{:#?}", same.budgets);
    assert_eq!(same.exit(), Exit::Pass);
}

#[test]
fn every_latency_statistic_a_budget_may_name_is_measured_max_included() {
    let mut results = generate(&with_on(ModeSpec {
        added_latency_ms: 20.0,
        ..ModeSpec::new("on", 1.0)
    }));
    results.budgets.latency_ms = ["p50", "p90", "p99", "p999", "max", "mean"]
        .iter()
        .map(|p| (p.to_string(), 1.0))
        .collect();
    let a = analyze(&results);
    for p in ["p50", "p90", "p99", "p999", "max", "mean"] {
        let b = find(&a, "on", &format!("latency {p}"));
        assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
        assert!(b.overhead.unwrap().low > 10.0, "{b:#?}");
    }
}

#[test]
fn restart_to_restart_variation_widens_the_interval_to_inconclusive() {
    // Cells shifted by 0.5 ms (sd) between restarts, 6 rounds: a 1 ms effect on a 1 ms limit
    // cannot be told from 0.5 or 1.5 ms, however many requests each window holds.
    let spec = RunSpec {
        latency_cell_sd_ms: 0.5,
        ..with_on(ModeSpec {
            added_latency_ms: 1.0,
            ..ModeSpec::new("on", 1.0)
        })
    };
    let a = analyze(&generate(&spec));
    let b = find(&a, "on", "latency p50");
    assert_eq!(b.verdict, Verdict::Inconclusive, "{b:#?}");
    let e = b.overhead.unwrap();
    assert!(e.low < 1.0 && e.high > 1.0, "{e:?}");
    assert_eq!(a.outcome, Verdict::Inconclusive);
    assert_eq!(a.exit(), Exit::Inconclusive);

    // One round: no interval at all, so nothing but trace volume is decided.
    let one = analyze(&generate(&RunSpec {
        rounds: 1,
        ..with_on(ModeSpec {
            added_cpu_pct: 3.0,
            ..ModeSpec::new("on", 1.0)
        })
    }));
    let b = find(&one, "on", "cpu auth");
    assert_eq!(b.verdict, Verdict::Inconclusive, "{b:#?}");
    assert!(
        b.note.as_deref().unwrap().contains("too few rounds"),
        "{b:#?}"
    );
    assert!(
        one.warnings.iter().any(|w| w.contains("1 round(s)")),
        "{:?}",
        one.warnings
    );
}

#[test]
fn an_a_a_mode_contains_zero_across_seeds_where_restarts_vary() {
    // A mode identical to the baseline, on a machine whose restarts shift latency by 0.3 ms and
    // CPU and memory levels by 0.5 (sd): the per-second spread inside a window (tiny next to
    // that) would give intervals that exclude 0 most of the time; rounds as replicates must
    // cover 0 at about the nominal 95%. 40 seeds x 7 budgets; the bound leaves room for chance
    // (at 95% the count of misses is about Binomial(280, 0.05): mean 14, sd 3.6).
    let (mut covered, mut total, mut fails) = (0, 0, 0);
    for seed in 0..40 {
        let spec = RunSpec {
            seed,
            rounds: 6,
            seconds: 5,
            latency_cell_sd_ms: 0.3,
            round_sd: 0.5,
            second_sd: 0.2,
            count_traces: false,
            ..with_on(ModeSpec::new("again", 0.0))
        };
        let a = analyze(&generate(&spec));
        for b in a.budgets.iter().filter(|b| b.mode == "again") {
            if matches!(b.budget, BudgetKind::TraceVolume { .. }) {
                continue;
            }
            let e = b.overhead.unwrap();
            total += 1;
            covered += usize::from(e.low <= 0.0 && 0.0 <= e.high);
            fails += usize::from(b.verdict == Verdict::Fail);
        }
    }
    let share = covered as f64 / total as f64;
    eprintln!("A/A coverage {covered} of {total} ({share:.3}), {fails} fails");
    assert!(
        share >= 0.90,
        "A/A intervals contain 0 in only {covered} of {total}"
    );
    assert_eq!(fails, 0);
}

#[test]
fn only_an_a_a_that_excludes_zero_blocks_a_pass() {
    // A noisy baseline (cells 2 ms apart, sd) is no gate: a 5 ms overhead is judged on its own
    // interval, and the A/A holds 0.
    let noisy = analyze(&generate(&RunSpec {
        latency_cell_sd_ms: 2.0,
        rounds: 6,
        ..with_on(ModeSpec {
            added_latency_ms: 5.0,
            ..ModeSpec::new("on", 1.0)
        })
    }));
    let floor = |a: &Analysis| {
        a.noise_floor
            .iter()
            .find(|n| n.budget.label() == "latency p50")
            .unwrap()
            .clone()
    };
    assert_eq!(floor(&noisy).verdict, Verdict::Pass, "{:#?}", floor(&noisy));
    let b = find(&noisy, "on", "latency p50");
    assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
    // An A/A that excludes 0 (the baseline's second cells 2 ms slower, as a broken restart
    // would make them) blocks the pass of an overhead that would otherwise pass, saying why.
    let mut results = generate(&with_on(ModeSpec::new("on", 1.0)));
    assert_eq!(
        find(&analyze(&results), "on", "latency p50").verdict,
        Verdict::Pass
    );
    for c in results.cells.iter_mut().filter(|c| c.replicate == 1) {
        c.load.latency_ms.p50 += 2.0;
    }
    let broken = analyze(&results);
    assert_eq!(
        floor(&broken).verdict,
        Verdict::Fail,
        "{:#?}",
        floor(&broken)
    );
    let b = find(&broken, "on", "latency p50");
    assert_eq!(b.verdict, Verdict::Inconclusive, "{b:#?}");
    assert!(b.note.as_deref().unwrap().contains("excludes 0"), "{b:#?}");
}

#[test]
fn a_mode_that_fails_requests_fails_the_errors_budget() {
    // 5% of requests fail: about 5 pp added, against a 0.1 pp budget.
    let a = analyze(&generate(&with_on(ModeSpec {
        error_share: 0.05,
        ..ModeSpec::new("on", 1.0)
    })));
    let b = find(&a, "on", "errors");
    assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
    assert!((b.overhead.unwrap().value - 5.0).abs() < 1.0, "{b:#?}");
    assert!(b.note.as_deref().unwrap().contains("failed"), "{b:#?}");
    assert_eq!(a.outcome, Verdict::Fail);
    // One cell failing outright (10% dropped) is enough, even when the rounds average below
    // the budget's reach.
    let mut results = generate(&with_on(ModeSpec::new("on", 1.0)));
    let cell = results.cells.iter_mut().find(|c| c.mode == "on").unwrap();
    cell.load.dropped = cell.load.due / 10;
    let a = analyze(&results);
    let b = find(&a, "on", "errors");
    assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
    assert!(b.note.as_deref().unwrap().contains("dropped"), "{b:#?}");
    let clean = analyze(&generate(&with_on(ModeSpec::new("on", 1.0))));
    assert_eq!(find(&clean, "on", "errors").verdict, Verdict::Pass);
}

#[test]
fn memory_beyond_budget_fails_and_within_passes_in_the_expected_range() {
    // Cell-to-cell sd 0.1 MB, 6 rounds: the interval is about +-0.5 MB.
    let fat = analyze(&generate(&with_on(ModeSpec {
        added_memory_mb: 30.0,
        ..ModeSpec::new("on", 1.0)
    })));
    let lean = analyze(&generate(&with_on(ModeSpec {
        added_memory_mb: 12.0,
        ..ModeSpec::new("on", 1.0)
    })));
    for service in ["gateway", "auth"] {
        let label = format!("memory {service}");
        let b = find(&fat, "on", &label);
        assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
        assert_eq!(b.in_expected_range, Some(false));
        let b = find(&lean, "on", &label);
        assert_eq!(b.verdict, Verdict::Pass, "{b:#?}");
        assert_eq!(b.in_expected_range, Some(true));
        let e = b.overhead.unwrap();
        assert!(
            (e.value - 12.0).abs() < 1.0 && e.low < e.value && e.value < e.high,
            "{e:?}"
        );
    }
}

#[test]
fn cpu_beyond_budget_fails_and_within_passes() {
    let busy = analyze(&generate(&with_on(ModeSpec {
        added_cpu_pct: 3.0,
        ..ModeSpec::new("on", 1.0)
    })));
    let idle = analyze(&generate(&with_on(ModeSpec {
        added_cpu_pct: 0.1,
        ..ModeSpec::new("on", 1.0)
    })));
    assert_eq!(find(&busy, "on", "cpu gateway").verdict, Verdict::Fail);
    assert_eq!(find(&idle, "on", "cpu gateway").verdict, Verdict::Pass);
    let summary = &idle.groups[0].services[0];
    assert!(summary.cpu_pct.unwrap().low < summary.cpu_pct.unwrap().high);
    assert!(summary.cpu_seconds_per_1k_requests.unwrap() > 0.0);
}

#[test]
fn trace_volume_exact_passes_short_fails_uncounted_is_inconclusive() {
    let spec = RunSpec {
        modes: vec![
            ModeSpec::new("off", 0.0),
            ModeSpec::new("on", 1.0),
            ModeSpec::new("sampled", 0.1),
        ],
        ..RunSpec::default()
    };
    let exact = analyze(&generate(&spec));
    for mode in ["off", "on", "sampled"] {
        let b = find(&exact, mode, "traces gateway");
        assert_eq!(b.verdict, Verdict::Pass, "{b:#?}");
    }
    let on = find(&exact, "on", "traces gateway").traces.unwrap();
    assert_eq!(
        (on.observed as f64, on.accept_low, on.accept_high),
        (18000.0, 18000.0, 18000.0)
    );
    let group = &exact.groups[1];
    assert_eq!(group.traces[0].observed, 18000);
    assert!((group.traces[0].observed_per_minute - 6000.0).abs() < 1e-9);

    let mut short = spec.clone();
    short.modes[1].trace_shortfall = 5;
    let a = analyze(&generate(&short));
    assert_eq!(find(&a, "on", "traces auth").verdict, Verdict::Fail);
    assert_eq!(a.exit(), Exit::Fail);

    let uncounted = analyze(&generate(&RunSpec {
        count_traces: false,
        ..spec
    }));
    let b = find(&uncounted, "sampled", "traces all");
    assert_eq!(b.verdict, Verdict::Inconclusive);
    assert_eq!(uncounted.exit(), Exit::Inconclusive);
}

#[test]
fn noise_floor_of_the_baseline_is_near_zero_and_passes() {
    let a = analyze(&generate(&RunSpec::default()));
    assert!(!a.noise_floor.is_empty());
    assert!(a.noise_floor.iter().all(|n| n.split.contains("two cells")));
    for n in &a.noise_floor {
        let width = match n.budget {
            BudgetKind::Latency { .. } => 0.5,
            _ => 3.0,
        };
        assert_eq!(n.verdict, Verdict::Pass, "{n:#?}");
        let e = n.estimate;
        assert!(
            e.low <= 0.0 + width && e.high >= -width && e.value.abs() < width,
            "{n:#?}"
        );
    }
    // Every latency and resource budget kind has a noise floor.
    let kinds = |k: fn(&BudgetKind) -> bool| a.noise_floor.iter().any(|n| k(&n.budget));
    assert!(kinds(|b| matches!(b, BudgetKind::Latency { .. })));
    assert!(kinds(|b| matches!(b, BudgetKind::Cpu { .. })));
    assert!(kinds(|b| matches!(b, BudgetKind::Memory { .. })));
    assert!(kinds(|b| *b == BudgetKind::Errors));
}

#[test]
fn group_figures_are_pooled_over_rounds() {
    let spec = RunSpec {
        rates: vec![50.0, 20.0],
        ..RunSpec::default()
    };
    let results = generate(&spec);
    let a = analyze(&results);
    let keys: Vec<(&str, f64)> = a.groups.iter().map(|g| (g.mode.as_str(), g.rate)).collect();
    assert_eq!(
        keys,
        [("off", 20.0), ("off", 50.0), ("on", 20.0), ("on", 50.0)]
    );
    // The baseline has two cells per round (its A/A pair).
    let g = &a.groups[0];
    assert_eq!(
        (g.rounds, g.cells, g.seconds, g.completed, g.errors),
        (6, 12, 360, 7200, 0)
    );
    assert_eq!((a.groups[2].cells, a.groups[2].due), (6, 3600));
    let t = g.throughput_rps;
    assert!(
        (t.value - 20.0).abs() < 1e-9 && t.low <= t.value && t.value <= t.high,
        "{t:?}"
    );
    assert_eq!(g.error_rate.value, 0.0);
    let p = g.latency_ms;
    assert!(p.p50.value < p.p90.value && p.p90.value < p.p99.value && p.p99.value <= p.max);
    assert!(p.p99.low <= p.p99.value && p.p99.value <= p.p99.high);
    // Floor 2 ms plus an exponential tail of mean 0.5 ms: median 2 + 0.5 ln 2, give or take the
    // cells' shifts (sd 0.05 ms each).
    assert!((p.p50.value - 2.347).abs() < 0.1, "{p:?}");
    let mem = g.services[0].memory_mean_mb.unwrap();
    assert!((mem.value - 50.0).abs() < 1.0, "{mem:?}");
}

#[test]
fn any_results_are_accepted_and_the_analysis_is_deterministic_and_serialisable() {
    let results = generate(&RunSpec::default());
    let a = analyze(&results);
    assert_eq!(a, analyze(&results));
    let summary = Summary {
        schema_version: tracebench::results::SCHEMA_VERSION,
        results: results.clone(),
        analysis: a,
    };
    // Floats may move by an ulp through JSON's parser, so compare as parsed JSON values.
    let json = serde_json::to_string(&summary).unwrap();
    let again: Summary = serde_json::from_str(&json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(serde_json::to_value(&again).unwrap() == value);

    // No cells at all: nothing to judge but trace budgets would have nothing either.
    let mut empty = results.clone();
    empty.cells.clear();
    empty.traces = None;
    let a = analyze(&empty);
    assert!(a.groups.is_empty() && a.budgets.is_empty());
    assert_eq!(a.outcome, Verdict::Pass);

    // A partial run without the baseline: inconclusive, with warnings saying why.
    let mut partial = results;
    partial.cells.retain(|c| c.mode == "on");
    partial.partial = true;
    partial.budgets.latency_ms.insert("p42".into(), 1.0);
    let a = analyze(&partial);
    assert_eq!(find(&a, "on", "latency p99").verdict, Verdict::Inconclusive);
    assert!(a.warnings.iter().any(|w| w.contains("stopped early")));
    assert!(a.warnings.iter().any(|w| w.contains("no baseline")));
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("`p42`: unknown statistic"))
    );
    assert_eq!(find(&a, "on", "latency p42").verdict, Verdict::Inconclusive);
}

#[test]
fn a_probe_that_did_not_come_back_fails_the_run() {
    let mut results = generate(&RunSpec::default());
    let whole = analyze(&results).outcome;
    assert_ne!(whole, Verdict::Fail);
    results.probes = Some(tracebench::results::ProbeResults {
        sent: 3,
        found: 2,
        missing: 1,
        broken: 0,
        ingestion_delay_p50_ms: Some(500.0),
        ingestion_delay_max_ms: Some(600.0),
        problems: vec!["0af7651916cd43dd8448eb211c80319c: Missing: not found".into()],
    });
    let a = analyze(&results);
    assert_eq!(a.outcome, Verdict::Fail);
    assert_eq!(a.exit(), Exit::Fail);
    assert!(
        a.warnings.iter().any(|w| w.contains("2 of 3")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn a_late_or_costly_driver_is_shown_and_warned_about() {
    let mut results = generate(&RunSpec::default());
    let quiet = analyze(&results);
    assert!(
        !quiet
            .warnings
            .iter()
            .any(|w| w.contains("driver") || w.contains("tracebench used")),
        "{:?}",
        quiet.warnings
    );
    let on = quiet.groups.iter().find(|g| g.mode == "on").unwrap();
    let pct = on
        .driver
        .tracebench_cpu_pct
        .expect("tracebench CPU measured");
    assert!(
        (pct - 5.0).abs() < 1e-9,
        "0.05 s per second of window: {pct}"
    );

    // One cell of `on` sent late (p99 0.3 ms against a 1 ms budget) and tracebench busier than
    // the services.
    let cell = results.cells.iter_mut().find(|c| c.mode == "on").unwrap();
    cell.load.driver_lag_ms.p99 = 0.3;
    cell.load.driver_lag_ms.max = 4.0;
    for c in results.cells.iter_mut().filter(|c| c.mode == "off") {
        c.tracebench_cpu_s = Some(1000.0);
    }
    let a = analyze(&results);
    let on = a.groups.iter().find(|g| g.mode == "on").unwrap();
    assert_eq!((on.driver.lag_p99_ms, on.driver.lag_max_ms), (0.3, 4.0));
    let warned = |needle: &str, mode: &str| {
        a.warnings
            .iter()
            .any(|w| w.starts_with(&format!("{mode} at ")) && w.contains(needle))
    };
    assert!(
        warned("driver's lag p99 reached 0.30 ms", "on"),
        "{:?}",
        a.warnings
    );
    assert!(warned("tracebench used", "off"), "{:?}", a.warnings);
    assert!(!warned("tracebench used", "on"), "{:?}", a.warnings);
}

#[test]
fn the_variation_between_earlier_runs_widens_the_verdicts() {
    use tracebench::results::{PastOverhead, PastRun};
    let mut results = generate(&with_on(ModeSpec::new("on", 1.0)));
    let alone = analyze(&results);
    assert_eq!(find(&alone, "on", "latency p50").verdict, Verdict::Pass);
    assert!(
        alone
            .warnings
            .iter()
            .any(|w| w.contains("hold for this run's conditions only")),
        "{:?}",
        alone.warnings
    );
    // Four earlier runs whose p50 overhead moved from 0 to 1.5 ms, each with a tight interval:
    // the run-to-run sd (about 0.65 ms) dwarfs this run's standard error, so no pass is claimed.
    let past = |values: [f64; 4]| -> Vec<PastRun> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| PastRun {
                dir: format!("reports/run-{i}"),
                started_unix_ms: i as i64,
                overheads: vec![PastOverhead {
                    mode: "on".into(),
                    rate: 100.0,
                    budget: BudgetKind::Latency {
                        percentile: "p50".into(),
                    },
                    value,
                    se: 0.01,
                }],
            })
            .collect()
    };
    results.history = past([0.0, 0.5, 1.0, 1.5]);
    let widened = analyze(&results);
    let b = find(&widened, "on", "latency p50");
    assert_eq!(b.verdict, Verdict::Inconclusive, "{b:#?}");
    assert!(
        b.note
            .as_deref()
            .unwrap()
            .contains("between 4 earlier runs"),
        "{b:#?}"
    );
    assert!(
        !widened
            .warnings
            .iter()
            .any(|w| w.contains("conditions only"))
    );
    // Earlier runs that agree within their own intervals widen nothing.
    results.history = past([0.0, 0.01, -0.01, 0.0]);
    let steady = analyze(&results);
    let b = find(&steady, "on", "latency p50");
    assert_eq!(b.verdict, Verdict::Pass, "{b:#?}");
    assert_eq!(b.overhead, find(&alone, "on", "latency p50").overhead);
}

/// Two builds in one run: `base` and `cand`, each measured `off` and `on`, the candidate's `on`
/// slower by `added_ms`; 6 rounds (a Williams square of the 6 treatments) of 4 s at 50 rps.
fn builds(added_ms: f64, seed: u64) -> RunSpec {
    let mode = |name: &'static str, ratio: f64, added: f64| ModeSpec {
        added_latency_ms: added,
        ..ModeSpec::new(name, ratio)
    };
    RunSpec {
        modes: vec![
            mode("base/off", 0.0, 0.0),
            mode("base/on", 1.0, 0.0),
            mode("cand/off", 0.0, 0.0),
            mode("cand/on", 1.0, added_ms),
        ],
        variants: vec!["base".into(), "cand".into()],
        rates: vec![50.0],
        seconds: 4,
        count_traces: false,
        seed,
        ..RunSpec::default()
    }
}

#[test]
fn two_builds_in_one_run_get_their_own_overheads_and_a_difference_with_an_honest_interval() {
    // Seeded simulation, 250 runs of an A/A of builds: the difference of the candidate's p50 in
    // `on` from the base's is 0, and its 95% interval must hold 0 in about 95% of runs (a
    // binomial 95% range for 250 runs is 92.3-97.7%). A regression needs the whole interval
    // beyond a threshold (10% of the base's p50, 0.5 pp of CPU, ...): about 1 run in 300 here,
    // where CPU is drawn noisier (sd 0.46 pp a cell) than the 0.5 pp threshold is wide; at
    // most 1% of runs.
    let (mut covered, mut regressions) = (0, 0);
    let runs = 250;
    for seed in 0..runs {
        let a = analyze(&generate(&builds(0.0, seed)));
        let v = a
            .variants
            .as_ref()
            .expect("a run of variants compares them");
        assert_eq!(v.base, "base");
        let row = v
            .rows
            .iter()
            .find(|r| r.mode == "on" && !r.overhead && r.budget.label() == "latency p50")
            .unwrap_or_else(|| panic!("{:#?}", v.rows));
        let d = row.difference.unwrap();
        covered += usize::from(d.low <= 0.0 && 0.0 <= d.high);
        regressions += usize::from(v.rows.iter().any(|r| r.regression));
        assert_eq!(a.exit() == Exit::Fail, v.rows.iter().any(|r| r.regression));
    }
    let coverage = covered as f64 / runs as f64;
    assert!((0.92..=0.98).contains(&coverage), "coverage {coverage}");
    assert!(
        regressions * 100 <= runs as usize,
        "{regressions} of {runs} A/A runs regressed"
    );

    // The candidate's `on` 2 ms slower: every budget of each variant against its own baseline,
    // and the regression named in the absolute p50 and the overhead, in every run.
    for seed in 0..20 {
        let a = analyze(&generate(&builds(2.0, 1000 + seed)));
        assert_eq!(find(&a, "cand/on", "latency p50").verdict, Verdict::Fail);
        assert_eq!(find(&a, "base/on", "latency p50").verdict, Verdict::Pass);
        assert!(a.noise_floor.iter().any(|n| n.mode == "cand/off"));
        let rows = &a.variants.as_ref().unwrap().rows;
        let regressed = |overhead: bool| {
            rows.iter().find(|r| {
                r.mode == "on" && r.overhead == overhead && r.budget.label() == "latency p50"
            })
        };
        for overhead in [false, true] {
            let r = regressed(overhead).unwrap();
            assert!(r.regression, "{r:#?}");
            let d = r.difference.unwrap();
            assert!(d.low < 2.0 && 2.0 < d.high, "{r:#?}");
        }
        // `off` did not change.
        assert!(
            rows.iter()
                .filter(|r| r.mode == "off")
                .all(|r| !r.regression),
            "{rows:#?}"
        );
        assert_eq!(a.exit(), Exit::Fail);
    }
}
