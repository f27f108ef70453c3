//! `tracebench stats` as users run it: processes and containers, the plain table when stdout is
//! not a terminal, the summary, the CSV file, and clear errors.

use std::process::Command;
use std::time::Duration;

use testkit::net::*;
use testkit::target::*;

const IMAGE: &str = "tracebench-test/stats:latest";

fn tracebench(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    service: String,
    source: String,
    cpu_pct: Option<f64>,
    cpu_seconds: Option<f64>,
    mem_bytes: Option<u64>,
}

fn rows(path: &std::path::Path) -> Vec<Row> {
    csv::Reader::from_path(path)
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn watches_a_process_and_writes_csv() {
    let port = free_port();
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let mut child = Command::new(program)
        .args(args)
        .envs(env)
        .env("TB_HELPER_ALLOC_MB", "16")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_http(port, Duration::from_secs(30)));
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stats.csv");
    let pid = child.id().to_string();
    let (code, stdout, stderr) = tracebench(&[
        "stats",
        "--pid",
        &pid,
        "--duration",
        "2s",
        "--interval",
        "500ms",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains('\x1b'), "no terminal escapes when piped");
    assert!(stdout.matches("NAME").count() >= 3, "{stdout}");
    assert!(stdout.contains("summary over"), "{stdout}");
    let rows = rows(&csv);
    assert!(rows.len() >= 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.service == format!("pid {pid}") && r.source == "proc")
    );
    assert!(rows[0].cpu_pct.is_none() && rows[1].cpu_pct.is_some());
    assert!(
        rows.iter()
            .all(|r| r.mem_bytes.unwrap() > 16 << 20 && r.cpu_seconds.is_some())
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let (code, _, stderr) = tracebench(&["stats", "--pid", "4294967294", "--duration", "1s"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("/proc/4294967294"), "{stderr}");
    let (code, _, stderr) = tracebench(&["stats", "--pid", "1", "--interval", "1ms"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--interval 1ms is too short"), "{stderr}");
}

#[tokio::test]
async fn watches_a_container_like_docker_stats() {
    let Some(docker) = docker_or_skip("watches_a_container_like_docker_stats").await else {
        return;
    };
    let (name, _port, _cleanup) = one_service(&docker, IMAGE, "tb-cli", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let (code, stdout, stderr) = tracebench(&[
        "stats",
        "--container",
        &name,
        "--duration",
        "3s",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&name), "{stdout}");
    let rows = rows(&csv);
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.source == "docker" && r.mem_bytes.is_some())
    );
    let missing = unique("tb-no-such");
    let (code, _, stderr) = tracebench(&["stats", "--container", &missing, "--duration", "1s"]);
    assert_eq!(code, Some(4));
    assert!(
        stderr.contains(&format!("container '{missing}'")),
        "{stderr}"
    );
}
