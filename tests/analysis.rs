//! The analysis on synthetic runs with known effects: each budget kind passes, fails and is
//! inconclusive where it should, the noise floor of an A/A run is near zero, and the outcome
//! maps to the documented exit codes. The generator is seeded, so each case is deterministic;
//! the effects are sized so the verdict does not hinge on the seed (see each comment).

mod analysis_support;

use analysis_support::{ModeSpec, RunSpec, generate};
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
    // 3 rounds x 30 s x 100 rps per mode: the p99 interval is a few tenths of a ms wide, far
    // from the 1 ms limit on either side.
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
fn an_effect_at_the_limit_with_few_samples_is_inconclusive() {
    // 1 round x 5 s x 10 rps: 50 requests per mode, with a 2 ms exponential tail, so the
    // median of each is uncertain by about +-0.5 ms: a 1 ms effect on a 1 ms limit cannot be
    // told apart from 0.5 or 1.5 ms.
    let spec = RunSpec {
        rounds: 1,
        seconds: 5,
        rates: vec![10.0],
        latency_tail_ms: 2.0,
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
}

#[test]
fn memory_beyond_budget_fails_and_within_passes_in_the_expected_range() {
    // Round-to-round sd 0.1 MB, second-to-second 1 MB over 30 s, 3 rounds: Welch's interval is
    // about +-0.5 MB.
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
fn cpu_beyond_budget_fails_within_passes_and_one_round_uses_samples() {
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

    // One round of 60 s: the interval comes from a block bootstrap of the samples (sd 1 pp per
    // second, so the mean's interval is about +-0.35 pp per side).
    let one = analyze(&generate(&RunSpec {
        rounds: 1,
        seconds: 60,
        ..with_on(ModeSpec {
            added_cpu_pct: 3.0,
            ..ModeSpec::new("on", 1.0)
        })
    }));
    let b = find(&one, "on", "cpu auth");
    assert_eq!(b.verdict, Verdict::Fail, "{b:#?}");
    let e = b.overhead.unwrap();
    assert!(
        e.low < e.value && e.value < e.high && e.high - e.low < 2.0,
        "{e:?}"
    );
    let summary = &one.groups[0].services[0];
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
        (9000.0, 9000.0, 9000.0)
    );
    let group = &exact.groups[1];
    assert_eq!(group.traces[0].observed, 9000);
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
    let g = &a.groups[0];
    assert_eq!(
        (g.rounds, g.seconds, g.completed, g.errors),
        (3, 90, 1800, 0)
    );
    assert!((g.throughput_rps.value - 20.0).abs() < 1e-9);
    assert_eq!(g.error_rate.value, 0.0);
    let p = g.latency_ms;
    assert!(p.p50.value < p.p90.value && p.p90.value < p.p99.value && p.p99.value <= p.max);
    assert!(p.p99.low <= p.p99.value && p.p99.value <= p.p99.high);
    // Floor 2 ms plus an exponential tail of mean 0.5 ms: median 2 + 0.5 ln 2.
    assert!((p.p50.value - 2.347).abs() < 0.05, "{p:?}");
    let mem = g.services[0].memory_mean_mb.unwrap();
    assert!((mem.value - 50.0).abs() < 1.0, "{mem:?}");
}

#[test]
fn any_results_are_accepted_and_the_analysis_is_deterministic_and_serialisable() {
    let results = generate(&RunSpec::default());
    let a = analyze(&results);
    assert_eq!(a, analyze(&results));
    let summary = Summary {
        schema_version: 1,
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
            .any(|w| w.contains("`p42`: unknown percentile"))
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
