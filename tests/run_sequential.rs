//! `tracebench run` as a sequential run on the demo stack (local processes, built-in sink): it
//! stops at the first look when every budget is decided, goes on to `load.max_rounds` when one
//! cannot be, and stops before the square that `load.max_duration` has no time for; each time it
//! says why, and the stop is a whole run (not partial).
//!
//! Two modes, `off` and its copy `same`, with the baseline's A/A pair are 3 treatments: a
//! Williams square of 6 rounds. Cells are as short as a run allows (1 s measured, 200 ms warm-up;
//! with the window aligned to whole seconds and a second left for its traces, 3 s a cell) and
//! traces are not counted: a round takes about 9 s, the first look about a minute. The tests run
//! one at a time (`.config/nextest.toml`, group `run-e2e`).

use std::process::{Command, Output};

use testkit::demo::workspace_bin;
use testkit::report::check_schema;
use testkit::run::{OFF, Spec, TestScenario, describe, modes, state_dir};
use tracebench::analysis::Summary;
use tracebench::compare::load_summary;
use tracebench::results::Design;

/// Limits no A/A overhead comes near.
const GENEROUS: &str =
    "latency_ms = { p50 = 50.0 }\ncpu_pp = 50.0\nmemory_mb = 500.0\nerrors_pp = 50.0";
/// Limits an A/A overhead sits on: no interval lies wholly on one side of 0.
const ON_THE_LIMIT: &str = "latency_ms = { p50 = 0.0 }\ncpu_pp = 0.0\nmemory_mb = 0.0";

/// `off` against its copy `same`, with `[load]` rounds `rounds`, the extra `[load]` keys
/// `load` and the `[budgets]` table `budgets`.
fn scenario(name: &str, rounds: u32, load: &str, budgets: &str) -> TestScenario {
    let aa = modes(&[("off", OFF), ("same", OFF)]);
    let scenario = TestScenario::write(&Spec {
        name,
        modes: &aa,
        rates: "[60]",
        rounds,
        duration: "1s",
        ingestion_wait: "200ms",
        ..Spec::default()
    });
    let mut text = std::fs::read_to_string(&scenario.path).unwrap();
    for (from, to) in [
        ("warmup = \"1s\"\n", "warmup = \"200ms\"\n".to_string()),
        ("settle = \"500ms\"\n", "settle = \"100ms\"\n".to_string()),
        ("probes = 3\n", "probes = 0\ncount = false\n".to_string()),
        (
            &format!("rounds = {rounds}\n"),
            format!("rounds = {rounds}\n{load}\n"),
        ),
    ] {
        assert!(text.contains(from), "the test scenario has no {from:?}");
        text = text.replacen(from, &to, 1);
    }
    text.push_str(&format!("[budgets]\n{budgets}\n"));
    std::fs::write(&scenario.path, text).unwrap();
    scenario
}

/// `tracebench run SCENARIO --out OUT`, not quiet (the looks are progress lines on stderr).
fn run(scenario: &TestScenario) -> (Output, Summary) {
    let out_dir = scenario.out("run");
    let out = Command::new(workspace_bin("tracebench", "tracebench"))
        .arg("run")
        .arg(&scenario.path)
        .arg("--out")
        .arg(&out_dir)
        .env("TRACEBENCH_STATE_DIR", state_dir(&scenario.path))
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&out)
    );
    check_schema(&out_dir);
    let summary = load_summary(&out_dir).unwrap();
    let results = &summary.results;
    assert!(
        !results.partial && results.stop_reason.is_none(),
        "a stop at a look is not an interruption: {:?}\n{}",
        results.stop_reason,
        describe(&out)
    );
    assert!(
        scenario.all_ports_closed(),
        "the run left a service running"
    );
    (out, summary)
}

/// The rounds the run measured: every one whole (its 3 cells), numbered from 0.
fn rounds_run(summary: &Summary) -> u32 {
    let cells = &summary.results.cells;
    let rounds = cells.iter().map(|c| c.round + 1).max().unwrap_or(0);
    assert_eq!(cells.len(), 3 * rounds as usize, "whole rounds of 3 cells");
    rounds
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_whose_budgets_are_all_far_from_their_limits_stops_at_the_first_look() {
    let scenario = scenario("decided", 6, "max_rounds = 18", GENEROUS);
    let (out, summary) = run(&scenario);
    let log = stderr(&out);
    assert_eq!(
        summary.results.design,
        Some(Design {
            min_rounds: 6,
            max_rounds: 18,
            square: 6
        })
    );
    assert!(
        log.contains("the run looks after rounds 6, 12, 18"),
        "{log}"
    );
    let (decided, total) = summary.analysis.decided();
    assert!(
        total > 0 && decided == total,
        "{:#?}",
        summary.analysis.budgets
    );
    assert_eq!(
        rounds_run(&summary),
        6,
        "{log}\n{:#?}",
        summary.analysis.noise_floor
    );
    assert!(
        log.contains(&format!(
            "look after round 6: {total} of {total} budgets decided"
        )),
        "{log}"
    );
    assert!(
        log.contains("the run stops: every budget decided after round 6"),
        "{log}"
    );
    assert!(!log.contains("look after round 12"), "{log}");
}

#[test]
fn a_run_that_cannot_decide_goes_on_to_max_rounds_and_says_so() {
    let scenario = scenario("undecided", 1, "max_rounds = 2", ON_THE_LIMIT);
    let (out, summary) = run(&scenario);
    let log = stderr(&out);
    assert!(
        log.contains("load.max_rounds is not load.rounds plus whole squares of 6 rounds"),
        "{log}"
    );
    assert_eq!(rounds_run(&summary), 2, "{log}");
    let (decided, total) = summary.analysis.decided();
    assert!(decided < total, "{:#?}", summary.analysis.budgets);
    for look in [1, 2] {
        assert!(log.contains(&format!("look after round {look}: ")), "{log}");
    }
    assert!(log.contains("undecided: same latency p50"), "{log}");
    assert!(
        log.contains("the run stops: max_rounds reached (2 rounds), not every budget decided"),
        "{log}"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "inconclusive: {}",
        describe(&out)
    );
}

#[test]
fn a_run_stops_before_a_square_that_would_end_after_max_duration() {
    // A round is 3 cells of at least 2 s each (a 1 s window aligned to whole seconds, then a
    // second free of load), so the square after round 1 (6 rounds) needs at least 36 s: more
    // than a 30 s cap allows.
    let scenario = scenario(
        "capped",
        1,
        "max_rounds = 7\nmax_duration = \"30s\"",
        ON_THE_LIMIT,
    );
    let (out, summary) = run(&scenario);
    let log = stderr(&out);
    assert_eq!(rounds_run(&summary), 1, "{log}");
    assert!(log.contains("look after round 1: "), "{log}");
    assert!(
        log.contains(
            "the run stops: max_duration would be exceeded by the next square (after round 1"
        ),
        "{log}"
    );
}
