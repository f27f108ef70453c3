//! Two builds in one run on the demo stack (local processes, built-in sink): the candidate's
//! gateway runs its own command (the same binary told to add 3 ms to every request), both
//! variants are measured in the same rounds, each against its own `off`, and the run exits 1
//! naming the regressed figure. Cells are short (1 s measured); one run of 6 rounds of 6 cells
//! takes about two minutes. Runs in the `run-e2e` group (`.config/nextest.toml`).

use testkit::report::check_schema;
use testkit::run::{OFF, Spec, TestScenario, describe, modes, run};
use tracebench::compare::load_summary;

#[test]
fn a_candidate_build_3_ms_slower_is_a_regression_named_in_the_report() {
    let two = modes(&[("off", OFF), ("on", r#"OTEL_TRACES_SAMPLER = "always_on""#)]);
    let scenario = TestScenario::write(&Spec {
        name: "ab",
        modes: &two,
        rounds: 6,
        duration: "1s",
        ingestion_wait: "500ms",
        ..Spec::default()
    });
    let mut text = std::fs::read_to_string(&scenario.path).unwrap();
    let gateway = text
        .lines()
        .find(|l| l.starts_with("command = [") && l.contains("demo-gateway"))
        .expect("the gateway's command")
        .to_string();
    let slower = gateway.replacen(']', r#", "--delay-ms", "3"]"#, 1);
    text.push_str(&format!(
        "[[variants]]\nname = \"base\"\n[[variants]]\nname = \"candidate\"\n\
         [variants.services.gateway]\n{slower}\n"
    ));
    std::fs::write(&scenario.path, text).unwrap();

    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    check_schema(&out_dir);
    let summary = load_summary(&out_dir).unwrap();
    let results = &summary.results;
    assert_eq!(results.variants, ["base", "candidate"]);
    let modes: Vec<&str> = results.modes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        modes,
        ["base/off", "base/on", "candidate/off", "candidate/on"]
    );
    // Every variant's mode in every round, and each variant's baseline twice.
    for round in 0..6 {
        let in_round = results.cells.iter().filter(|c| c.round == round).count();
        assert_eq!(in_round, 6, "round {round}");
    }
    // Each variant's overheads against its own baseline, and one A/A per variant.
    let a = &summary.analysis;
    for mode in ["base/on", "candidate/on"] {
        assert!(a.budgets.iter().any(|b| b.mode == mode), "{:#?}", a.budgets);
    }
    for base in ["base/off", "candidate/off"] {
        assert!(a.noise_floor.iter().any(|n| n.mode == base), "{base}");
    }
    // The candidate's program is recorded beside the base's.
    assert!(
        results
            .environment
            .programs
            .iter()
            .any(|p| p.service == "candidate/gateway" && p.digest.is_some()),
        "{:#?}",
        results.environment.programs
    );
    // The regression: the candidate's p50 3-4 ms above the base's (a 3 ms timer sleeps up to
    // the next millisecond tick), in both modes; the
    // overhead of `on` (each against its own `off`) did not change by anything like that.
    let v = a.variants.as_ref().unwrap();
    for mode in ["off", "on"] {
        let row = v
            .rows
            .iter()
            .find(|r| r.mode == mode && !r.overhead && r.budget.label() == "latency p50")
            .unwrap();
        assert!(row.regression, "{row:#?}");
        let d = row.difference.unwrap();
        // Under load a timer fires later still: the bound above only rules out nonsense.
        assert!(d.low > 2.5 && d.high < 10.0, "{row:#?}");
    }
    let overhead = v
        .rows
        .iter()
        .find(|r| r.mode == "on" && r.overhead && r.budget.label() == "latency p50")
        .unwrap();
    assert!(!overhead.regression, "{overhead:#?}");
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(report.contains("## Candidate against base"), "{report}");
    assert!(report.contains("REGRESSION"), "{report}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("REGRESSION in"), "{stdout}");
    assert!(
        scenario.all_ports_closed(),
        "the run left a service running"
    );
}
