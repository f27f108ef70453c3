//! `tracebench run` end to end with the docker target on this machine's Docker Engine: the
//! offline compose stack (images built without a registry, tracebench's sink in place of Tempo),
//! a short scenario selecting its containers by compose service and project labels, modes off,
//! on and sampled, one rate, one round. Checks the exit code, summary.json (every cell, docker
//! resource series for both services, traces at `on` equal to its successful requests), and that
//! the containers are back exactly as before the run.

//!
//! It runs in the nextest group of the other run tests (one at a time: each drives load and
//! samples CPU on 2 cores).

use std::time::Duration;

use testkit::compose::*;
use testkit::net::wait_http;
use testkit::run::{describe, run, run_with_fault, state_dir};
use testkit::target::docker_or_skip;
use tracebench::compare::load_summary;
use tracebench::control::docker::MODE_LABEL;
use tracebench::control::journal::{self, Entry};
use tracebench::results::ResourceSource;

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
expect = [200, 201]
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
    let output = run(&file, &out);
    println!("{}", describe(&output));
    assert!(
        matches!(output.status.code(), Some(0 | 1 | 3)),
        "a completed run exits 0, 1 or 3: {}",
        describe(&output)
    );

    let after: Vec<String> = containers.iter().map(|c| identity(c)).collect();
    assert_eq!(after, before, "containers restored: same ID, env and ports");

    let summary = load_summary(&out).unwrap();
    let results = &summary.results;
    assert!(!results.partial, "{:?}", results.stop_reason);
    assert_eq!(
        summary.analysis.exit() as i32,
        output.status.code().unwrap()
    );
    assert_eq!(results.environment.target_kind, "docker");
    // Each container's image and its ID, for `compare` and `trend` to tell builds apart.
    let images = &results.environment.programs;
    assert!(
        images.len() == 2
            && images.iter().all(|p| p
                .digest
                .as_deref()
                .is_some_and(|d| d.starts_with("sha256:"))),
        "{images:#?}"
    );
    let mut modes: Vec<&str> = results.cells.iter().map(|c| c.mode.as_str()).collect();
    modes.sort();
    assert_eq!(
        modes,
        ["off", "off", "on", "sampled"],
        "one cell per mode, and the baseline's A/A cell"
    );
    for cell in &results.cells {
        assert!(cell.ok > 0, "{}: no success", cell.mode);
        let mut services: Vec<&str> = Vec::new();
        for series in &cell.resources {
            assert_eq!(
                series.source,
                ResourceSource::Docker,
                "{} {}",
                cell.mode,
                series.service
            );
            assert!(
                series.samples.iter().any(|s| s.mem_bytes > Some(0)),
                "{} {}: memory read",
                cell.mode,
                series.service
            );
            services.push(&series.service);
        }
        services.sort();
        assert_eq!(services, ["auth", "gateway"], "{}", cell.mode);
    }

    let traces = results.traces.as_ref().expect("traces counted");
    assert_eq!(traces.store, format!("tempo {}", stack.api_url()));
    let observed = |mode: &str| {
        traces
            .cells
            .iter()
            .find(|t| t.mode == mode && t.service == "api-gateway")
            .unwrap_or_else(|| panic!("trace counts of the {mode} cell"))
            .observed
    };
    let on = results.cells.iter().find(|c| c.mode == "on").unwrap();
    assert_eq!(
        observed("on"),
        on.ok,
        "at always_on, one trace per successful request"
    );
    assert_eq!(observed("off"), 0, "tracing off sends nothing");
    let probes = results.probes.as_ref().expect("probes sent");
    assert_eq!((probes.sent, probes.found), (2, 2), "{probes:?}");
}

/// Every point of a run at which the fault-injection test kills or interrupts it: a step of the
/// journal (the first whose text starts so; the signal comes once it is on disk, before the step
/// is taken), and a delay after it. `auth` and `gw` are the two containers' names.
fn fault_points(auth: &str, gw: &str) -> Vec<(String, &'static str)> {
    vec![
        (format!("stop {auth}"), "before anything changed"),
        ("rename".into(), "after the first stop"),
        ("create".into(), "after the first rename"),
        ("start".into(), "after the first create"),
        (format!("stop {gw}"), "after the first start"),
        (format!("rename {gw}"), "after the second stop"),
        (format!("create {gw}"), "after the second rename"),
        (format!("start {gw}"), "after the second create"),
        ("measure+700".into(), "while measuring"),
        (
            "remove".into(),
            "between a mode container's stop and its removal",
        ),
        ("probes+100".into(), "while sending probes"),
    ]
}

#[tokio::test]
async fn killed_or_interrupted_at_any_step_the_containers_come_back_as_they_were() {
    if docker_or_skip("killed_or_interrupted_at_any_step")
        .await
        .is_none()
    {
        return;
    }
    build_offline_images();
    let stack = ComposeStack::up(&project_name("tbfault"));
    assert!(
        wait_http(stack.ports.gateway, Duration::from_secs(60)),
        "the gateway never answered"
    );
    let (auth, gw) = (
        stack.container("user-auth-service"),
        stack.container("api-gateway"),
    );
    let before = [identity(&auth), identity(&gw)];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fault.toml");
    let short = scenario(&stack)
        .replace(r#"duration = "4s""#, r#"duration = "2s""#)
        .replace("probes = 2", "probes = 1");
    std::fs::write(&file, short).unwrap();
    let state = state_dir(&file);
    for signal in ["kill", "int"] {
        for (point, when) in fault_points(&auth, &gw) {
            let at = format!("{signal}@{point} ({when})");
            let out = dir
                .path()
                .join(format!("{signal}-{}", point.replace(' ', "_")));
            run_with_fault(&file, &out, &format!("{signal}@{point}"), true, &at);
            if signal == "int" {
                assert!(load_summary(&out).unwrap().results.partial, "{at}");
            }
            assert_eq!(
                [identity(&auth), identity(&gw)],
                before,
                "{at}: same ID, name, running state, env, ports, networks and aliases"
            );
            assert_no_tracebench_containers(&stack.project, &at);
            let entries = journal::read(&out.join(journal::FILE_NAME)).unwrap();
            assert_eq!(entries.last(), Some(&Entry::Restored), "{at}");
            let pointers = std::fs::read_dir(state.join("locks"))
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "journal"))
                .count();
            assert_eq!(pointers, 0, "{at}: the journal pointer is gone");
        }
    }
}

/// No container of the compose project carries tracebench's mode label.
fn assert_no_tracebench_containers(project: &str, at: &str) {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label={MODE_LABEL}")])
        .args(["--format", "{{.Names}}"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !listed.lines().any(|name| name.starts_with(project)),
        "{at}: left behind: {listed}"
    );
}
