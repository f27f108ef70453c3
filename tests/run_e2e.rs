//! `tracebench run` end to end on the demo stack (local processes, built-in sink), as a user runs
//! it: every output file checked, Ctrl-C mid-run, an A/A run, and `compare` on real runs.
//!
//! The tests run one at a time (`.config/nextest.toml`, group `run-e2e`): each drives load and
//! measures CPU, which another run beside it on 2 cores would disturb.

use std::time::{Duration, Instant};

use testkit::report::{
    check_cells_csv, check_hlogs, check_html_self_contained, check_markdown_starts_with_the_glance,
    check_pngs, check_resources_csv, check_schema, check_svgs, read,
};
use testkit::run::{
    OFF, Spec, TestScenario, describe, modes, run, run_command, run_with_fault, tracebench,
};
use tracebench::analysis::{BudgetKind, Verdict};
use tracebench::compare::load_summary;

/// Each cell's slowest requests: at `on` every one names a trace, at `off` none does, at
/// `sampled` (0.1) some do; every trace named is in the store, whole, and splits the request's
/// latency into parts that add up to it. The report lists them with their links.
fn check_slowest(results: &tracebench::results::RunResults) {
    let traces = results.traces.as_ref().unwrap();
    for cell in &results.cells {
        let slowest = &cell.load.slowest;
        assert_eq!(slowest.len(), 10, "{} at {}", cell.mode, cell.rate);
        let named = slowest.iter().filter(|r| r.trace_id.is_some()).count();
        match cell.mode.as_str() {
            "on" => assert_eq!(named, 10, "{slowest:?}"),
            "off" => assert_eq!(named, 0, "{slowest:?}"),
            _ => assert!(
                named < 10,
                "sampled at 0.1, yet {named} of 10 named a trace"
            ),
        }
        for r in slowest {
            let Some(id) = r.trace_id else { continue };
            let found = traces
                .slow_traces
                .iter()
                .find(|t| t.trace_id == id && cell.is(&t.mode, t.rate, t.round, t.replicate))
                .unwrap_or_else(|| panic!("trace {id} of {} was not looked up", cell.mode));
            assert!(found.found && found.complete == Some(true), "{found:?}");
            let b = found.breakdown.as_ref().unwrap();
            assert!((b.total_ms() - r.latency_ms).abs() < 1e-6, "{b:?} {r:?}");
            assert_eq!(b.spans, 3, "gateway server and client, auth server: {b:?}");
            let services: Vec<&str> = b.services.iter().map(|s| s.service.as_str()).collect();
            assert_eq!(services, ["api-gateway", "user-auth-service"]);
            // The spans lie within what the driver saw, but for the clocks' resolution.
            assert!(b.outside_ms > -0.05 && b.driver_ms >= 0.0, "{b:?}");
        }
    }
}

#[test]
fn a_run_on_the_demo_stack_writes_every_file_and_counts_every_trace_at_full_sampling() {
    // A 1 s ingestion wait (the services export every 200 ms) lets the sink's traces be counted
    // and forgotten while each 3 s cell still loads: the counts below add up both parts.
    let scenario = TestScenario::write(&Spec {
        rates: "[40, 80]",
        ingestion_wait: "1s",
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
    assert_eq!(
        results.cells.len(),
        (3 + 1) * 2,
        "(modes + the baseline's A/A cell) x rates x rounds; the discarded first cell is not kept"
    );
    assert_eq!(
        results.cells.iter().filter(|c| c.replicate == 1).count(),
        2,
        "one A/A cell of the baseline per rate and round"
    );
    check_cells_csv(&out_dir, results);
    check_resources_csv(&out_dir, results);
    assert!(results.cells.iter().all(|c| c.resources.len() == 2));
    assert_eq!(check_hlogs(&out_dir, results), 3 * 2);
    check_svgs(&out_dir, &summary);
    check_pngs(&out_dir, &summary);
    check_html_self_contained(&read(&out_dir, "report.html"), &summary);
    let md = read(&out_dir, "report.md");
    check_markdown_starts_with_the_glance(&md);
    assert!(md.contains("## Slowest requests and their traces"));
    assert!(md.contains("/api/traces/"), "the sink's trace links");
    // The verdict table is what the run printed.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(md.lines().next().unwrap()),
        "stdout: {stdout}"
    );
    assert!(stdout.contains("## At a glance") && stdout.contains("| budget | on @ 40 req/s |"));

    // Trace counts: always_on keeps every request's trace, off none, sampled some.
    let traces = results.traces.as_ref().expect("traces counted");
    assert_eq!(traces.store, "built-in sink");
    assert_eq!(traces.store_dropped_spans, Some(0));
    for cell in &results.cells {
        assert!(cell.ok > 0 && cell.load.errors == 0, "{cell:?}");
        // Every registration is new: request numbers continue across warm-ups and cells, so
        // no measured request takes the duplicate (409) path.
        assert_eq!(
            cell.load.status_counts.keys().collect::<Vec<_>>(),
            ["200"],
            "{:?}",
            cell.load.status_counts
        );
        assert_eq!(cell.load.due, cell.load.sent);
        let counted = traces
            .cells
            .iter()
            .find(|t| t.counts(cell))
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
    check_slowest(results);
    let probes = results.probes.as_ref().expect("probes sent");
    assert_eq!((probes.sent, probes.found), (3, 3), "{probes:?}");
    assert!(
        scenario.all_ports_closed(),
        "the run left a service running"
    );
}

#[test]
fn ctrl_c_stops_restores_and_keeps_every_finished_cells_trace_count_with_exit_4() {
    let scenario = TestScenario::write(&Spec {
        name: "interrupted",
        rounds: 4,
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let mut child = run_command(&scenario.path, &out_dir).spawn().unwrap();
    // Poll summary.json (rewritten after every cell) until three cells are in; bounded.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let cells = std::fs::read_to_string(out_dir.join("summary.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["results"]["cells"].as_array().map(Vec::len))
            .unwrap_or(0);
        if cells >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "three cells did not finish in 180 s"
        );
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
    assert!((3..4 * 4).contains(&cells), "{cells} cells");
    // Every finished cell's traces were counted, the last ones after the interruption.
    let traces = summary.results.traces.as_ref().expect("traces counted");
    for cell in &summary.results.cells {
        let counted = traces
            .cells
            .iter()
            .find(|t| t.counts(cell))
            .unwrap_or_else(|| panic!("cell {} not counted: {traces:#?}", cell.order));
        if cell.mode == "on" {
            assert_eq!(counted.observed, cell.load.completed, "{cell:?}");
        }
    }
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

#[test]
fn a_baseline_against_itself_never_fails_and_compare_flags_only_an_added_overhead() {
    // Two modes that are both tracing off: the baseline against itself.
    let a_a = modes(&[("off", OFF), ("off2", OFF)]);
    let spec = Spec {
        name: "aa",
        modes: &a_a,
        rates: "[80]",
        rounds: 4,
        duration: "2s",
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
        .map(|b| {
            format!(
                "{} {}: {:?} {:?}",
                b.mode,
                b.budget.label(),
                b.verdict,
                b.overhead
            )
        })
        .collect();
    eprintln!("A/A verdicts: {verdicts:#?}");
    // No verdict of a run against itself may be a fail; pass and inconclusive are both honest
    // (4 rounds of 2 s on a shared machine may not decide a 1 pp CPU budget). The noise floor
    // is the baseline's two cells of every round, one entry per budget.
    for budget in &summary.analysis.budgets {
        assert_ne!(budget.verdict, Verdict::Fail, "{verdicts:#?}");
    }
    let floor = &summary.analysis.noise_floor;
    assert!(
        floor.iter().any(|n| n.budget == BudgetKind::Errors)
            && floor.iter().any(
                |n| matches!(&n.budget, BudgetKind::Latency { percentile } if percentile == "p50")
            ),
        "{floor:#?}"
    );
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        describe(&out)
    );
    assert_ne!(summary.results.seed, 0, "the order's seed is stored");

    // compare: a run against itself is no regression.
    let same = tracebench(&["compare".as_ref(), aa.as_os_str(), aa.as_os_str()]);
    assert_eq!(same.status.code(), Some(0), "{}", describe(&same));

    // The same scenario with 2 ms added by the gateway in off2: its latency overhead regresses,
    // and the table names it.
    let a_slow = modes(&[
        ("off", OFF),
        ("off2", &format!(r#"{OFF}, DEMO_EXTRA_DELAY_MS = "2""#)),
    ]);
    let delayed = TestScenario::write(&Spec {
        modes: &a_slow,
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
        .filter(|l| l.starts_with('|') && l.contains("**regression**"))
        .collect();
    assert!(
        regressions
            .iter()
            .any(|l| l.contains("off2") && l.contains("overhead latency p50")),
        "{table}"
    );
}

#[test]
fn a_mode_whose_requests_hang_or_fail_fails_the_errors_budget() {
    // A mode whose requests all hang past the timeout, and one whose gateway answers every
    // 20th request with 500.
    let broken = modes(&[
        ("off", OFF),
        ("hang", &format!(r#"{OFF}, DEMO_EXTRA_DELAY_MS = "3000""#)),
        ("fail5pct", &format!(r#"{OFF}, DEMO_FAIL_EVERY = "20""#)),
    ]);
    let scenario = TestScenario::write(&Spec {
        name: "broken",
        modes: &broken,
        rates: "[40]",
        rounds: 2,
        duration: "2s",
        timeout: "1s",
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = load_summary(&out_dir).unwrap();
    for mode in ["hang", "fail5pct"] {
        let errors = budget(&summary, mode, &BudgetKind::Errors);
        assert_eq!(errors.verdict, Verdict::Fail, "{errors:#?}");
        assert!(errors.note.is_some(), "{errors:#?}");
    }
    // Every hanging request is an error with the time it took (about the 1 s timeout), so the
    // hanging mode's latency is never a speed-up.
    let hang = budget(
        &summary,
        "hang",
        &BudgetKind::Latency {
            percentile: "p50".into(),
        },
    );
    assert!(hang.overhead.unwrap().value > 900.0, "{hang:#?}");
    assert_ne!(hang.verdict, Verdict::Pass);
    // With 4 connections each held for the 1 s timeout, most due requests wait in the driver
    // and are still unsent when the cell's drain ends: they count as unfinished, against due.
    for cell in summary.results.cells.iter().filter(|c| c.mode == "hang") {
        assert_eq!(cell.load.completed, 0, "{cell:?}");
        assert_eq!(
            cell.load.errors + cell.load.unfinished,
            cell.load.due,
            "{cell:?}"
        );
        assert_eq!(cell.error_pct(), 100.0, "{cell:?}");
        assert!(
            cell.load
                .error_kinds
                .keys()
                .any(|k| k.contains("no response within 1s")),
            "{cell:?}"
        );
        assert!(!cell.warnings.is_empty());
    }
    let failing: f64 = summary
        .results
        .cells
        .iter()
        .filter(|c| c.mode == "fail5pct")
        .map(|c| c.error_pct())
        .sum::<f64>()
        / 2.0;
    assert!((4.0..=6.0).contains(&failing), "{failing}% errors");
    // What the run printed (the report's opening) says both modes are over the errors budget,
    // in a sentence each and in the matrix.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for mode in ["hang", "fail5pct"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{mode} at 40 req/s:"))
                    && l.contains("over budget on")
                    && l.contains("errors")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("| budget | hang @ 40 req/s | fail5pct @ 40 req/s |")
            && stdout
                .lines()
                .any(|l| l.starts_with("| errors | FAIL ") && l.matches("FAIL").count() == 2),
        "{stdout}"
    );
}

#[test]
fn a_mode_whose_service_works_in_a_child_process_fails_cpu_and_memory_and_a_copy_of_off_passes() {
    // The auth service starts through a shell that, when the mode asks, first starts a child
    // burning 25% of a core and holding 64 MiB, then becomes the service (`exec`): the child
    // stays under it, as a worker or sidecar would. `off-again` is `off` exactly (A/A).
    // Started under a name of this test's own, so that what is left of it can be told from the
    // helpers of tests running beside it.
    let links = tempfile::tempdir().unwrap();
    let helper = links.path().join("tb-child-helper");
    std::os::unix::fs::symlink(
        testkit::demo::workspace_bin("testkit", "tb-helper"),
        &helper,
    )
    .unwrap();
    let launcher = format!(
        r#"if [ -n "$TB_CHILD_BURN_PCT" ]; then
  TB_HELPER_LISTEN=127.0.0.1:0 TB_HELPER_BURN_PCT="$TB_CHILD_BURN_PCT" TB_HELPER_ALLOC_MB=64 "{}" &
fi"#,
        helper.display()
    );
    let modes = modes(&[
        ("off", OFF),
        ("off-again", OFF),
        (
            "child-burns",
            &format!(r#"{OFF}, TB_CHILD_BURN_PCT = "25""#),
        ),
    ]);
    let scenario = TestScenario::write(&Spec {
        name: "children",
        modes: &modes,
        rates: "[40]",
        rounds: 2,
        duration: "3s",
        auth_launcher: &launcher,
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = load_summary(&out_dir).unwrap();
    let mut cells: Vec<_> = summary.results.cells.iter().collect();
    cells.sort_by_key(|c| c.order);
    for c in cells {
        let cpu: Vec<String> = c
            .resources
            .iter()
            .map(|r| format!("{} {:.2}%", r.service, r.window_cpu_pct.unwrap_or(f64::NAN)))
            .collect();
        eprintln!(
            "{} round {} {}: {}",
            c.order,
            c.round,
            c.mode,
            cpu.join(", ")
        );
    }
    let auth = || "auth".to_string();
    let cpu = budget(
        &summary,
        "child-burns",
        &BudgetKind::Cpu { service: auth() },
    );
    assert_eq!(cpu.verdict, Verdict::Fail, "{cpu:#?}");
    // 25% asked; a busy 2-core machine gives the child less, never none.
    assert!(cpu.overhead.unwrap().value > 5.0, "{cpu:#?}");
    let memory = budget(
        &summary,
        "child-burns",
        &BudgetKind::Memory { service: auth() },
    );
    assert_eq!(memory.verdict, Verdict::Fail, "{memory:#?}");
    assert!(memory.overhead.unwrap().value > 60.0, "{memory:#?}");
    // The A/A mode is noise around 0: no CPU or memory budget fails. (That its 95% intervals
    // hold 0 about 95% of the time is a property of many runs: scripts/bench/verdicts.sh aa.)
    for kind in [
        BudgetKind::Cpu { service: auth() },
        BudgetKind::Memory { service: auth() },
        BudgetKind::Cpu {
            service: "gateway".into(),
        },
        BudgetKind::Memory {
            service: "gateway".into(),
        },
    ] {
        let b = budget(&summary, "off-again", &kind);
        assert_ne!(b.verdict, Verdict::Fail, "{b:#?}");
    }
    // The child went with its service at each restart: none is left.
    std::thread::sleep(Duration::from_millis(500));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &helper.display().to_string()])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "helpers left: {left:?}");
}

fn budget<'a>(
    summary: &'a tracebench::analysis::Summary,
    mode: &str,
    kind: &BudgetKind,
) -> &'a tracebench::analysis::BudgetResult {
    summary
        .analysis
        .budgets
        .iter()
        .find(|b| b.mode == mode && &b.budget == kind)
        .unwrap_or_else(|| panic!("no {kind:?} for {mode}: {:#?}", summary.analysis.budgets))
}

#[test]
fn traces_of_refused_requests_count_and_a_service_that_exports_nothing_breaks_completeness() {
    let gateway = || "api-gateway".to_string();
    // 1. 10% 400s: trace volume passes (every answered request is traced), all complete.
    // Tracing on, with every tenth registration refused by auth (400): each refused request
    // still roots a whole trace.
    let rejects = modes(&[
        (
            "off",
            r#"OTEL_SDK_DISABLED = "true", OTEL_TRACES_SAMPLER = "always_off""#,
        ),
        (
            "reject10pct",
            r#"OTEL_TRACES_SAMPLER = "always_on", DEMO_REJECT_EVERY = "10""#,
        ),
    ]);
    let scenario = TestScenario::write(&Spec {
        name: "rejects",
        modes: &rejects,
        rates: "[40]",
        duration: "2s",
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the 400s fail errors: {}",
        describe(&out)
    );
    let summary = load_summary(&out_dir).unwrap();
    let cell = summary
        .results
        .cells
        .iter()
        .find(|c| c.mode == "reject10pct")
        .unwrap();
    let rejected = cell.load.status_counts.get("400").copied().unwrap_or(0);
    assert!(
        rejected * 12 >= cell.load.completed && rejected * 8 <= cell.load.completed,
        "{cell:?}"
    );
    let volume = budget(
        &summary,
        "reject10pct",
        &BudgetKind::TraceVolume { service: gateway() },
    );
    assert_eq!(volume.verdict, Verdict::Pass, "{volume:#?}");
    assert_eq!(
        volume.traces.as_ref().unwrap().observed,
        cell.load.completed
    );
    let complete = budget(
        &summary,
        "reject10pct",
        &BudgetKind::Completeness { service: gateway() },
    );
    assert_eq!(complete.verdict, Verdict::Pass, "{complete:#?}");

    // 2. auth exports to a dead port: every traced request is counted, none is complete.
    let scenario = TestScenario::write(&Spec {
        name: "dead-exporter",
        rates: "[40]",
        duration: "2s",
        auth_env: r#"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "http://127.0.0.1:1""#,
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let out = run(&scenario.path, &out_dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = load_summary(&out_dir).unwrap();
    let on = summary
        .results
        .cells
        .iter()
        .find(|c| c.mode == "on")
        .unwrap();
    let counted = summary
        .results
        .traces
        .as_ref()
        .unwrap()
        .cells
        .iter()
        .find(|t| t.counts(on))
        .unwrap();
    assert_eq!(counted.observed, on.load.completed);
    assert_eq!(
        (counted.complete, counted.incomplete),
        (Some(0), Some(on.load.completed))
    );
    let complete = budget(
        &summary,
        "on",
        &BudgetKind::Completeness { service: gateway() },
    );
    assert_eq!(complete.verdict, Verdict::Fail, "{complete:#?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("complete traces api-gateway") && l.contains("FAIL")),
        "{stdout}"
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn tempo_credentials_reach_no_file_no_log_and_no_service() {
    const TOKEN: &str = "planted-token-7f3a";
    const PASSWORD: &str = "planted-password-91c2";
    let scenario = TestScenario::write(&Spec {
        name: "secrets",
        modes: r#"
[[modes.mode]]
name = "off"
env = { OTEL_SDK_DISABLED = "true" }
[[modes.mode]]
name = "on"
env = { OTEL_TRACES_SAMPLER = "always_on" }
"#,
        rates: "[20]",
        duration: "2s",
        ..Spec::default()
    });
    // A separate sink stands in for Tempo, reached with credentials in the URL; the auth service
    // runs behind `sh`, which prints its environment into the run directory's auth.log.
    let [_, _, grpc, http, api] = scenario.ports[..] else {
        panic!("ports {:?}", scenario.ports)
    };
    let text = std::fs::read_to_string(&scenario.path).unwrap();
    let sink_table = format!(
        "[traces.sink]\notlp_grpc = \"127.0.0.1:{grpc}\"\notlp_http = \"127.0.0.1:{http}\"\napi = \"127.0.0.1:{api}\"\n"
    );
    assert!(text.contains(&sink_table) && text.contains("store = \"sink\""));
    let text = text
        .replace(&sink_table, "")
        .replace(
            "store = \"sink\"",
            &format!(
                "store = \"tempo\"\ntempo = {{ url = \"http://tb:{PASSWORD}@127.0.0.1:{api}\" }}"
            ),
        )
        .replacen(
            "command = [\"",
            "command = [\"sh\", \"-c\", \"env; exec \\\"$0\\\" \\\"$@\\\"\", \"",
            1,
        );
    std::fs::write(&scenario.path, text).unwrap();
    let mut sink = std::process::Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(["sink", "--otlp-grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http", &format!("127.0.0.1:{http}")])
        .args(["--api", &format!("127.0.0.1:{api}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out_dir = scenario.out("run");
    let out = run_command(&scenario.path, &out_dir)
        .env("TEMPO_TOKEN", TOKEN)
        .output()
        .unwrap();
    let _ = sink.kill();
    let _ = sink.wait();
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&out)
    );
    let auth_log = read(&out_dir, "auth.log");
    assert!(
        auth_log.contains("OTEL_SERVICE_NAME=user-auth-service"),
        "the service's environment was not printed: {auth_log}"
    );
    let summary = read(&out_dir, "summary.json");
    assert!(
        summary.contains(&format!("tempo http://***@127.0.0.1:{api}")),
        "the store is named, without its credentials"
    );
    let mut checked = 0;
    for path in files_under(&out_dir) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [TOKEN, PASSWORD] {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} files in the run directory");
    for secret in [TOKEN, PASSWORD] {
        assert!(!describe(&out).contains(secret), "{secret} printed");
    }
}

#[test]
fn services_die_with_a_run_killed_by_sigkill() {
    let scenario = TestScenario::write(&Spec {
        name: "killed",
        ..Spec::default()
    });
    let out_dir = scenario.out("run");
    let mut child = run_command(&scenario.path, &out_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the services answer, then SIGKILL tracebench: nothing runs after it.
    wait_until(
        Duration::from_secs(120),
        "the services never started",
        || {
            assert!(child.try_wait().unwrap().is_none(), "the run ended early");
            !scenario.all_ports_closed() && out_dir.join("gateway.log").exists()
        },
    );
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until(
        Duration::from_secs(10),
        "a service still listens 10 s after tracebench was killed",
        || scenario.all_ports_closed(),
    );
}

#[test]
fn killed_or_interrupted_at_any_step_no_service_process_remains() {
    use std::os::unix::process::ExitStatusExt;
    use tracebench::control::journal::{self, Entry};
    let scenario = TestScenario::write(&Spec {
        name: "fault",
        rates: "[40]",
        duration: "2s",
        ..Spec::default()
    });
    // The auth service behind a wrapper shell: its process is the shell's child, which the
    // parent-death signal does not reach; only the journal's process group can end it.
    let auth = scenario.ports[0];
    let bin = testkit::demo::demo_bin("demo-auth");
    let text = std::fs::read_to_string(&scenario.path).unwrap();
    let direct = format!(
        r#"command = ["{}", "--listen", "127.0.0.1:{auth}"]"#,
        bin.display()
    );
    assert!(text.contains(&direct), "{text}");
    let wrapped = format!(
        r#"command = ["sh", "-c", "{} --listen 127.0.0.1:{auth} & wait"]"#,
        bin.display()
    );
    std::fs::write(&scenario.path, text.replace(&direct, &wrapped)).unwrap();
    // Lines 3 and 5 of the journal record the spawned auth and gateway processes.
    let points = [
        ("spawn auth", "before anything started"),
        ("3", "auth spawned, not yet ready"),
        ("spawn gateway", "auth ready, the gateway not started"),
        ("5", "both spawned"),
        ("measure+700", "while measuring"),
        ("stop gateway", "at the next switch, before the first stop"),
        ("stop auth", "at the next switch, between the stops"),
        ("probes+100", "while sending probes"),
    ];
    for signal in ["kill", "int"] {
        for (point, when) in points {
            let at = format!("{signal}@{point} ({when})");
            let out = scenario.out(&format!("{signal}-{}", point.replace(' ', "_")));
            run_with_fault(
                &scenario.path,
                &out,
                &format!("{signal}@{point}"),
                false,
                &at,
            );
            wait_until(
                Duration::from_secs(10),
                &format!("{at}: a service still listens"),
                || scenario.all_ports_closed(),
            );
            let entries = journal::read(&out.join(journal::FILE_NAME)).unwrap();
            assert_eq!(entries.last(), Some(&Entry::Restored), "{at}");
        }
    }
    // Killed again, and not restored by hand: the next run puts it back first, then runs.
    let killed = scenario.out("killed");
    let output = run_command(&scenario.path, &killed)
        .env(journal::FAULT_VAR, "kill@measure+700")
        .output()
        .unwrap();
    assert_eq!(output.status.signal(), Some(9), "{}", describe(&output));
    let next = run(&scenario.path, &scenario.out("next"));
    assert!(
        matches!(next.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&next)
    );
    let entries = journal::read(&killed.join(journal::FILE_NAME)).unwrap();
    assert_eq!(entries.last(), Some(&Entry::Restored));
}

/// Polls `done` every 100 ms; fails with `what` if it is not true within `within`.
fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_second_run_on_the_same_target_exits_4_and_changes_nothing() {
    let scenario = TestScenario::write(&Spec {
        name: "first",
        ..Spec::default()
    });
    let first_dir = scenario.out("first");
    let first = run_command(&scenario.path, &first_dir).spawn().unwrap();
    wait_until(
        Duration::from_secs(120),
        "the first run never started",
        || first_dir.join("gateway.log").exists(),
    );
    let second_dir = scenario.out("second");
    let second = run(&scenario.path, &second_dir);
    assert_eq!(second.status.code(), Some(4), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another tracebench run is using 127.0.0.1:")
            && stderr.contains(&format!("PID {}", first.id()))
            && stderr.contains(&first_dir.display().to_string()),
        "{stderr}"
    );
    assert!(
        !second_dir.exists(),
        "the refused run created its directory"
    );
    // The first run goes on undisturbed to its end.
    let first = first.wait_with_output().unwrap();
    assert!(
        matches!(first.status.code(), Some(0 | 1 | 3)),
        "{}",
        describe(&first)
    );
    let summary = load_summary(&first_dir).unwrap();
    assert!(!summary.results.partial);
}

#[test]
fn ctrl_c_at_the_external_targets_prompt_ends_the_run_at_once() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let port = |_| testkit::net::free_port();
    let [web, grpc, http, api]: [u16; 4] = std::array::from_fn(port);
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("external.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "external"
[target]
kind = "external"
[[target.services]]
name = "web"
tcp = "127.0.0.1:{web}"
[request]
url = "http://127.0.0.1:{web}/"
[modes]
baseline = "off"
[[modes.mode]]
name = "off"
env = {{ OTEL_SDK_DISABLED = "true" }}
[load]
rates = [5]
duration = "1s"
[traces]
store = "sink"
count = false
[traces.sink]
otlp_grpc = "127.0.0.1:{grpc}"
otlp_http = "127.0.0.1:{http}"
api = "127.0.0.1:{api}"
"#
        ),
    )
    .unwrap();
    // The prompt is asked only on a terminal: standard input is a pseudo-terminal nobody types on.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given integers; no name, termios or size.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("run"))
        .stdin(std::process::Stdio::from(slave))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Until the prompt waits (bounded), then Ctrl-C.
    wait_until(Duration::from_secs(60), "the run never started", || {
        dir.path().join("run/summary.json").exists()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run did not wait at the prompt"
    );
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory preconditions; the PID is our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run still waits for the prompt 15 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = reader.join().unwrap();
    assert_eq!(status.code(), Some(4), "{text}");
    assert!(
        text.contains("press Enter") && text.contains("interrupted by SIGINT"),
        "{text}"
    );
    drop(master);
}
