//! `tracebench run` end to end on the demo stack (local processes, built-in sink), as a user runs
//! it: every output file checked, Ctrl-C mid-run, an A/A run, and `compare` on real runs.
//!
//! The tests run one at a time (`.config/nextest.toml`, group `run-e2e`): each drives load and
//! measures CPU, which another run beside it on 2 cores would disturb.

mod report_support;
mod run_support;
mod support;

use std::time::{Duration, Instant};

use report_support::{
    check_cells_csv, check_hlogs, check_html_self_contained, check_markdown_starts_with_verdicts,
    check_pngs, check_resources_csv, check_svgs, read,
};
use run_support::{Spec, TestScenario, describe, run, tracebench};
use tracebench::analysis::{BudgetKind, Verdict};
use tracebench::compare::load_summary;

/// summary.json against the published JSON Schema (draft 2020-12).
fn check_schema(dir: &std::path::Path) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/summary.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is valid");
    let summary: serde_json::Value = serde_json::from_str(&read(dir, "summary.json")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json breaks its schema: {errors:#?}"
    );
}

#[test]
fn a_run_on_the_demo_stack_writes_every_file_and_counts_every_trace_at_full_sampling() {
    let scenario = TestScenario::write(&Spec {
        rates: "[40, 80]",
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    // Pass, fail or inconclusive are all honest outcomes of a 3 s cell; usage (2) or broken (4)
    // are not.
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&out)
    );
    let summary = load_summary(&out_dir).unwrap();
    let results = &summary.results;
    assert!(!results.partial, "{:?}", results.stop_reason);
    assert_eq!(summary.analysis.exit() as i32, out.status.code().unwrap());

    // Every file, each in its format.
    check_schema(&out_dir);
    assert_eq!(results.cells.len(), 3 * 2, "modes x rates x rounds");
    check_cells_csv(&out_dir, results);
    check_resources_csv(&out_dir, results);
    assert!(results.cells.iter().all(|c| c.resources.len() == 2));
    assert_eq!(check_hlogs(&out_dir, results), 3 * 2);
    check_svgs(&out_dir, &summary);
    check_pngs(&out_dir, &summary);
    check_html_self_contained(&read(&out_dir, "report.html"), &summary);
    let md = read(&out_dir, "report.md");
    check_markdown_starts_with_verdicts(&md);
    // The verdict table is what the run printed.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(md.lines().next().unwrap()),
        "stdout: {stdout}"
    );
    assert!(stdout.contains("| mode | rate (req/s) | budget |"));

    // Trace counts: always_on keeps every request's trace, off none, sampled some.
    let traces = results.traces.as_ref().expect("traces counted");
    assert_eq!(traces.store, "built-in sink");
    assert_eq!(traces.store_dropped_spans, Some(0));
    for cell in &results.cells {
        assert!(cell.ok > 0 && cell.errors == 0, "{cell:?}");
        let counted = traces
            .cells
            .iter()
            .find(|t| t.mode == cell.mode && t.rate == cell.rate && t.round == cell.round)
            .expect("every cell counted");
        assert_eq!(counted.service, "api-gateway");
        match cell.mode.as_str() {
            "on" => assert_eq!(counted.observed, cell.ok, "{} at {}", cell.mode, cell.rate),
            "off" => assert_eq!(
                counted.observed,
                0,
                "{:#?}\n{:?}",
                traces.cells,
                results
                    .cells
                    .iter()
                    .map(|c| (
                        &c.mode,
                        c.rate,
                        c.window_start_unix_ms,
                        c.window_end_unix_ms
                    ))
                    .collect::<Vec<_>>()
            ),
            _ => assert!(counted.observed < cell.ok, "sampled: {}", counted.observed),
        }
    }
    let probes = results.probes.as_ref().expect("probes sent");
    assert_eq!((probes.sent, probes.found), (3, 3), "{probes:?}");
    assert!(
        scenario.all_ports_closed(),
        "the run left a service running"
    );
}

#[test]
fn ctrl_c_stops_restores_and_writes_a_partial_report_with_exit_4() {
    let scenario = TestScenario::write(&Spec {
        name: "interrupted",
        rounds: 4,
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(["run", "--quiet"])
        .arg(&scenario.path)
        .arg("--out")
        .arg(&out_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Poll summary.json (rewritten after every cell) until the first cell is in; bounded.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let cells = std::fs::read_to_string(out_dir.join("summary.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["results"]["cells"].as_array().map(Vec::len))
            .unwrap_or(0);
        if cells >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no cell finished in 120 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Into the next cell (restart or load), then Ctrl-C.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory preconditions; the PID is our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted by SIGINT"),
        "{}",
        describe(&out)
    );

    let summary = load_summary(&out_dir).unwrap();
    assert!(summary.results.partial);
    assert_eq!(
        summary.results.stop_reason.as_deref(),
        Some("interrupted by SIGINT")
    );
    let cells = summary.results.cells.len();
    assert!((1..4 * 3).contains(&cells), "{cells} cells");
    check_schema(&out_dir);
    check_cells_csv(&out_dir, &summary.results);
    let md = read(&out_dir, "report.md");
    assert!(md.contains("PARTIAL"), "{md}");
    assert!(out_dir.join("report.html").is_file());
    assert!(
        scenario.all_ports_closed(),
        "a demo process or the sink survived"
    );
}

/// Two modes that are both tracing off: the baseline against itself.
const A_A: &str = r#"
[[modes.mode]]
name = "off"
env = { OTEL_SDK_DISABLED = "true" }
[[modes.mode]]
name = "off2"
env = { OTEL_SDK_DISABLED = "true" }
"#;

#[test]
fn a_baseline_against_itself_passes_and_compare_flags_only_injected_latency() {
    let spec = Spec {
        name: "aa",
        modes: A_A,
        rates: "[60]",
        rounds: 2,
        ..Spec::default()
    };
    let scenario = TestScenario::write(&spec);
    let aa = scenario.out("aa");
    let out = run(&scenario.path, &aa);
    let summary = load_summary(&aa).unwrap();
    let verdicts: Vec<String> = summary
        .analysis
        .budgets
        .iter()
        .map(|b| format!("{} {}: {:?}", b.mode, b.budget.label(), b.verdict))
        .collect();
    eprintln!("A/A verdicts: {verdicts:#?}");
    // Latency and memory: no difference, so pass. CPU on a shared 2-core machine: a 3 s cell
    // measures a few percent of a core with 1-tick (1%) resolution, so its interval may reach
    // the 1 pp budget; inconclusive is then the honest answer, a fail never is.
    for budget in &summary.analysis.budgets {
        match budget.budget {
            BudgetKind::Cpu { .. } => {
                assert_ne!(budget.verdict, Verdict::Fail, "{verdicts:#?}")
            }
            BudgetKind::TraceVolume { .. } => {}
            _ => assert_eq!(budget.verdict, Verdict::Pass, "{verdicts:#?}"),
        }
    }
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        describe(&out)
    );

    // compare: a run against itself is no regression.
    let same = tracebench(&["compare".as_ref(), aa.as_os_str(), aa.as_os_str()]);
    assert_eq!(same.status.code(), Some(0), "{}", describe(&same));

    // The same scenario with 5 ms added by the gateway: a regression, named in the table.
    let delayed = TestScenario::write(&Spec {
        gateway_env: r#"DEMO_EXTRA_DELAY_MS = "5""#,
        ..spec
    });
    let slow = delayed.out("slow");
    let out = run(&delayed.path, &slow);
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&out)
    );
    let cmp = tracebench(&["compare".as_ref(), aa.as_os_str(), slow.as_os_str()]);
    assert_eq!(cmp.status.code(), Some(1), "{}", describe(&cmp));
    let table = String::from_utf8_lossy(&cmp.stdout);
    let regressions: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with('|') && l.to_lowercase().contains("regression"))
        .collect();
    assert!(
        regressions
            .iter()
            .any(|l| l.contains("p99") || l.contains("p50")),
        "{table}"
    );
}
