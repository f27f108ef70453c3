//! `tracebench run` end to end with the docker target on this machine's Docker Engine: the
//! offline compose stack (images built without a registry, tracebench's sink in place of Tempo),
//! a short scenario selecting its containers by compose service and project labels, modes off,
//! on and sampled, one rate, one round. Checks the exit code, summary.json (every cell, docker
//! resource series for both services, traces at `on` equal to its successful requests), and that
//! the containers are back exactly as before the run.

mod compose_support;
mod target_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose_support::*;
use target_support::*;

/// Far above what the run takes here (3 short cells, each recreating two containers: about a
/// minute on a busy 2-core machine); only there so a hung run fails the test instead of CI.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn scenario(stack: &ComposeStack) -> String {
    let (project, p) = (&stack.project, stack.ports);
    format!(
        r#"name = "docker-e2e"

[target]
kind = "docker"
ready_timeout = "90s"

[[target.services]]
name = "auth"
compose_service = "user-auth-service"
compose_project = "{project}"
tcp = "127.0.0.1:{auth}"

[[target.services]]
name = "gateway"
compose_service = "api-gateway"
compose_project = "{project}"
health = "http://127.0.0.1:{gateway}/health"
# Export every half second, so spans are in the sink well within the ingestion wait.
env = {{ OTEL_BSP_SCHEDULE_DELAY = "500" }}

[request]
url = "http://127.0.0.1:{gateway}/api/auth/register"
method = "POST"
body = '{{"username":"d{{seq}}-{{run}}","email":"{{uuid}}@example.test","password":"tracebench"}}'
headers = {{ "content-type" = "application/json" }}
expect = [200, 201, 409]
connections = 4
max_in_flight = 128
arrivals = "uniform"
timeout = "5s"

# [modes] left out: off (baseline), on, sampled at 0.1.

[load]
rates = [50]
warmup = "1s"
duration = "4s"
rounds = 1
seed = 5
settle = "1s"
ingestion_wait = "3s"

[traces]
store = "tempo"
required = true
count = true
probes = 2
services = ["api-gateway", "user-auth-service"]
root_service = "api-gateway"

[traces.tempo]
url = "{api}"
"#,
        auth = p.auth,
        gateway = p.gateway,
        api = stack.api_url(),
    )
}

/// Runs `tracebench run SCENARIO --out DIR --quiet`, bounded by [`RUN_TIMEOUT`]: exit code,
/// stdout, stderr.
fn tracebench_run(scenario: &Path, out: &Path) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting tracebench run");
    let deadline = Instant::now() + RUN_TIMEOUT;
    while child.try_wait().expect("waiting for tracebench").is_none() {
        if Instant::now() > deadline {
            // SIGINT: the run restores the containers and writes a partial report.
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) on our own child, not reaped yet.
            unsafe { libc::kill(pid, libc::SIGINT) };
            let output = child.wait_with_output().unwrap();
            panic!(
                "tracebench run took over {RUN_TIMEOUT:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[tokio::test]
async fn run_with_the_docker_target_on_the_offline_compose_stack() {
    if docker_or_skip("run_with_the_docker_target_on_the_offline_compose_stack")
        .await
        .is_none()
    {
        return;
    }
    build_offline_images();
    let stack = ComposeStack::up(&project_name("tbrun"));
    assert!(
        wait_http(stack.ports.gateway, Duration::from_secs(60)),
        "the gateway never answered"
    );
    let containers = [
        stack.container("api-gateway"),
        stack.container("user-auth-service"),
    ];
    let before: Vec<String> = containers.iter().map(|c| identity(c)).collect();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-e2e.toml");
    std::fs::write(&file, scenario(&stack)).unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = tracebench_run(&file, &out);
    println!("exit {code}\n{stdout}\n{stderr}");
    assert!(
        [0, 1, 3].contains(&code),
        "a completed run exits 0, 1 or 3, not {code}: {stderr}"
    );

    let after: Vec<String> = containers.iter().map(|c| identity(c)).collect();
    assert_eq!(after, before, "containers restored: same ID, env and ports");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let results = &summary["results"];
    assert_eq!(results["partial"], false, "{}", results["stop_reason"]);
    assert_eq!(results["environment"]["target_kind"], "docker");
    let cells = results["cells"].as_array().unwrap();
    let mut modes: Vec<&str> = cells.iter().map(|c| c["mode"].as_str().unwrap()).collect();
    modes.sort();
    assert_eq!(modes, ["off", "on", "sampled"]);
    for cell in cells {
        let mode = &cell["mode"];
        assert!(cell["ok"].as_u64().unwrap() > 0, "{mode}: no success");
        let mut services: Vec<&str> = Vec::new();
        for series in cell["resources"].as_array().unwrap() {
            let service = series["service"].as_str().unwrap();
            assert_eq!(series["source"], "docker", "{mode} {service}");
            let samples = series["samples"].as_array().unwrap();
            assert!(
                samples.iter().any(|s| s["mem_bytes"].as_u64() > Some(0)),
                "{mode} {service}: memory read"
            );
            services.push(service);
        }
        services.sort();
        assert_eq!(services, ["auth", "gateway"], "{mode}");
    }

    let on = cells.iter().find(|c| c["mode"] == "on").unwrap();
    let traces = results["traces"]["cells"].as_array().unwrap();
    let traces_on = traces
        .iter()
        .find(|t| t["mode"] == "on" && t["service"] == "api-gateway")
        .expect("trace counts of the on cell");
    assert_eq!(
        traces_on["observed"], on["ok"],
        "at always_on, one trace per successful request"
    );
    let off = traces
        .iter()
        .find(|t| t["mode"] == "off" && t["service"] == "api-gateway")
        .unwrap();
    assert_eq!(off["observed"], 0, "tracing off sends nothing");
    assert_eq!(
        results["probes"]["found"], results["probes"]["sent"],
        "every probe trace came back whole: {}",
        results["probes"]
    );
}
