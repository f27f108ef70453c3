//! `tracebench compare` end to end: the real binary on summary.json files written from
//! synthetic runs. A run against itself or against a rerun with other noise is no regression;
//! 5 ms more latency in every mode (the machine, not tracing) is flagged but not gated unless
//! `--gate-absolute`; 2 ms more overhead in the traced mode is a regression (exit 1, the table
//! names the figure); the table is appended to $GITHUB_STEP_SUMMARY; bad files are usage errors
//! naming the file; a directory of baseline runs gives the variation between runs.

use std::path::Path;
use std::process::{Command, Output};

use testkit::analysis::{ModeSpec, RunSpec, write_summary};

fn compare(args: &[&Path], step_summary: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracebench"));
    cmd.arg("compare")
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY");
    if let Some(p) = step_summary {
        cmd.env("GITHUB_STEP_SUMMARY", p);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `compare` with `args`, which must exit with `code`; its stdout.
fn compared(args: &[&Path], step_summary: Option<&Path>, code: i32) -> String {
    let o = compare(args, step_summary);
    assert_eq!(o.status.code(), Some(code), "{}", stdout(&o));
    stdout(&o)
}

/// The table row of `out` that starts with `prefix`.
fn row<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no row {prefix} in\n{out}"))
}

/// The default run with 2 ms more latency in `on`, drawn from `seed`.
fn two_ms_more_in_on(seed: u64) -> RunSpec {
    RunSpec {
        seed,
        modes: vec![
            ModeSpec::new("off", 0.0),
            ModeSpec {
                added_latency_ms: 2.0,
                ..ModeSpec::new("on", 1.0)
            },
        ],
        ..RunSpec::default()
    }
}

/// A temporary directory holding the default run as `base`.
fn with_base() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = write_summary(dir.path(), "base", &RunSpec::default());
    (dir, base)
}

#[test]
fn same_run_and_rerun_are_no_regression_and_the_table_is_appended() {
    let (dir, base) = with_base();
    let rerun = write_summary(
        dir.path(),
        "rerun",
        &RunSpec {
            seed: 7,
            ..RunSpec::default()
        },
    );
    let step = dir.path().join("step-summary.md");
    std::fs::write(&step, "earlier step\n").unwrap();

    assert!(compared(&[&base, &base], Some(&step), 0).contains("**No regression**"));
    // A run directory works as well as its summary.json.
    let out = compared(&[base.parent().unwrap(), &rerun], Some(&step), 0);
    assert!(!out.contains("**regression**"));

    let appended = std::fs::read_to_string(&step).unwrap();
    assert!(appended.starts_with("earlier step\n"));
    assert_eq!(appended.matches("## tracebench compare").count(), 2);
    assert!(appended.contains("| on | 100 | latency p99 (ms) |"));
}

#[test]
fn a_slower_machine_is_flagged_and_gated_only_when_asked() {
    let (dir, base) = with_base();
    let slow = write_summary(
        dir.path(),
        "slow",
        &RunSpec {
            latency_floor_ms: 7.0,
            seed: 9,
            ..RunSpec::default()
        },
    );
    let out = compared(&[&base, &slow], None, 0);
    let p99 = row(&out, "| off | 100 | latency p99 (ms) |");
    assert!(
        p99.ends_with("| beyond, not gated (absolute figure) |"),
        "{p99}"
    );
    // The overhead of tracing did not change: both modes slowed down alike.
    assert!(
        out.lines()
            .filter(|l| l.contains("overhead"))
            .all(|l| l.ends_with("| ok |")),
        "{out}"
    );
    let out = compared(&[&base, &slow, Path::new("--gate-absolute")], None, 1);
    assert!(
        out.contains("regression(s)**: off at 100 rps: latency p50 (ms)"),
        "{out}"
    );
}

#[test]
fn two_ms_more_tracing_overhead_is_a_regression_naming_the_figure() {
    let (dir, base) = with_base();
    let slow = write_summary(dir.path(), "slow", &two_ms_more_in_on(9));
    let out = compared(&[&base, &slow], None, 1);
    let p50 = row(&out, "| on | 100 | overhead latency p50 (ms) |");
    assert!(p50.ends_with("| **regression** |"), "{p50}");
}

#[test]
fn unreadable_or_foreign_files_are_usage_errors_naming_the_file() {
    let (dir, base) = with_base();
    let missing = dir.path().join("nope.json");
    let o = compare(&[&base, &missing], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.json: cannot read"));

    let future = dir.path().join("future.json");
    let text = std::fs::read_to_string(&base).unwrap();
    let text = text.replacen("\"schema_version\":3", "\"schema_version\":99", 1);
    std::fs::write(&future, text).unwrap();
    let o = compare(&[&future, &base], None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("future.json: schema_version 99, but this tracebench reads version 3 (and 2)"),
        "{err}"
    );

    let o = compare(
        &[&base, &base, Path::new("--threshold"), Path::new("p98=1%")],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown figure `p98`"));
}

#[test]
fn a_summary_left_without_its_analysis_is_analyzed_when_read() {
    // What a run killed before it concluded leaves: the results so far, no analysis.
    let (dir, base) = with_base();
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let analysis = value.as_object_mut().unwrap().remove("analysis").unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, value.to_string()).unwrap();
    let summary = tracebench::compare::load_summary(&cut).unwrap();
    assert_eq!(serde_json::to_value(&summary.analysis).unwrap(), analysis);
    assert!(compared(&[&base, &cut], None, 0).contains("**No regression**"));
}

#[test]
fn several_baseline_runs_in_a_directory_estimate_the_variation_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("main");
    for seed in [11, 12, 13] {
        let spec = RunSpec {
            seed,
            ..RunSpec::default()
        };
        write_summary(&runs, &format!("run-{seed}"), &spec);
    }
    let unchanged = write_summary(
        dir.path(),
        "pr",
        &RunSpec {
            seed: 14,
            ..RunSpec::default()
        },
    );
    let out = compared(&[&runs, &unchanged], None, 0);
    assert!(
        out.contains("3 baseline runs: each figure's variation"),
        "{out}"
    );
    assert!(out.contains("**No regression**"), "{out}");
    assert!(out.contains("run-11"), "the runs read are named: {out}");
    let slower = write_summary(dir.path(), "slower-pr", &two_ms_more_in_on(15));
    let out = compared(&[&runs, &slower], None, 1);
    let p50 = row(&out, "| on | 100 | overhead latency p50 (ms) |");
    assert!(p50.ends_with("| **regression** |"), "{p50}");
    // One baseline run: the comparison says what it cannot know.
    let out = compared(&[&runs.join("run-11"), &unchanged], None, 0);
    assert!(
        out.contains("1 baseline run(s): the variation between runs is unknown"),
        "{out}"
    );
    // A relative threshold on an overhead is refused, naming why.
    let threshold = [Path::new("--threshold"), Path::new("latency-overhead=10%")];
    let o = compare(&[&runs, &unchanged, threshold[0], threshold[1]], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("an overhead's threshold is absolute"));
}
