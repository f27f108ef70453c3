//! The docker path end to end, as CI runs it on a machine that cannot pull: the offline images
//! built by scripts/offline-images.sh, the stack started by docker-compose with the offline
//! override (own project name, free 127.0.0.1 ports, tracebench's sink in place of Tempo), then
//! - the docker target switching the services through off, on and sampled by their compose
//!   labels, and restoring them exactly;
//! - at always_on, the traces counted through the sink's Tempo API equal the successful requests.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use tracebench::control::docker::{ContainerSpec, DockerTarget, Selector};
use tracebench::control::{ModeEnv, Readiness, Shutdown, Target};
use tracebench::traces::count::{CountRequest, count_traces};
use tracebench::traces::tempo::TempoClient;

use testkit::compose::*;
use testkit::net::*;
use testkit::target::*;

fn logs(container: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// The offline stack up, its gateway answering; `None` (after a loud message) without Docker.
async fn stack_or_skip(test: &str) -> Option<(bollard::Docker, ComposeStack)> {
    let docker = docker_or_skip(test).await?;
    build_offline_images();
    let stack = ComposeStack::up(&project_name("tbcompose"));
    assert!(
        wait_http(stack.ports.gateway, Duration::from_secs(60)),
        "the gateway never answered"
    );
    Some((docker, stack))
}

#[tokio::test]
async fn the_compose_stack_switches_modes_by_label_and_is_restored() {
    let Some((docker, stack)) =
        stack_or_skip("the_compose_stack_switches_modes_by_label_and_is_restored").await
    else {
        return;
    };
    let ports = stack.ports;
    let gateway = stack.container("api-gateway");
    let auth = stack.container("user-auth-service");
    let before = (identity(&gateway), identity(&auth));

    let spec = |service: &str, readiness: Readiness| ContainerSpec {
        service: service.into(),
        selector: Selector::ComposeService {
            service: service.into(),
            project: Some(stack.project.clone()),
        },
        env: BTreeMap::new(),
        readiness,
    };
    let specs = vec![
        spec(
            "user-auth-service",
            Readiness::Tcp(([127, 0, 0, 1], ports.auth).into()),
        ),
        spec(
            "api-gateway",
            Readiness::Http(format!("http://127.0.0.1:{}/health", ports.gateway)),
        ),
    ];
    let mut target = Target::Docker(DockerTarget::new(docker, specs).await.unwrap());
    let expected_log = [
        ("off", "tracing disabled (OTEL_SDK_DISABLED=true)"),
        ("on", "sampler always_on"),
        ("sampled", "sampler parentbased_traceidratio 0.1"),
    ];
    let shutdown = Shutdown::watch();
    let outcome = target
        .guarded(&shutdown, async |t, cancel| {
            for (mode, log_line) in expected_log {
                let env = standard_mode(mode, 0.1).unwrap();
                t.apply(
                    &ModeEnv::uniform(mode, ["user-auth-service", "api-gateway"], &env),
                    cancel,
                )
                .await?;
                assert_eq!(
                    post_register(ports.gateway, &format!("c-{mode}")),
                    Some(200),
                    "{mode}"
                );
                for container in [&gateway, &auth] {
                    let text = logs(container);
                    assert!(text.contains(log_line), "{mode} {container}: {text}");
                }
            }
            Ok(())
        })
        .await;
    outcome.unwrap();
    assert_eq!((identity(&gateway), identity(&auth)), before);
    assert!(
        wait_http(ports.gateway, Duration::from_secs(60)),
        "restored gateway answers"
    );
}

#[tokio::test]
async fn compose_stack_at_always_on_sends_one_trace_per_request_to_the_sink() {
    let Some((_docker, stack)) =
        stack_or_skip("compose_stack_at_always_on_sends_one_trace_per_request_to_the_sink").await
    else {
        return;
    };
    let tempo = TempoClient::new(&stack.api_url()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(err) = tempo.ready().await {
        assert!(Instant::now() < deadline, "the sink never got ready: {err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Bounded: 150 sequential registrations, each bounded by post_register's 10 s timeout.
    const REQUESTS: u32 = 150;
    let start_s = now_s();
    let gateway_port = stack.ports.gateway;
    let ok = tokio::task::spawn_blocking(move || {
        (0..REQUESTS)
            .filter(|i| post_register(gateway_port, &format!("t{i}-{start_s}")) == Some(200))
            .count() as u64
    })
    .await
    .unwrap();
    assert!(ok > 0, "no registration succeeded");
    // Stopping the services (SIGTERM) makes them flush every span they still hold; the sink
    // stores what it receives at once, so the count is final right after.
    let stopped = stack.compose(&["stop", "-t", "20", "api-gateway", "user-auth-service"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let counts = count_traces(
        &tempo,
        &CountRequest::roots(&["api-gateway", "user-auth-service"], start_s, now_s() + 1),
    )
    .await
    .unwrap();
    println!("{} ok requests, counts {counts:?}", ok);
    assert_eq!(counts.services[0].total, ok, "api-gateway root traces");
    // The auth service roots none: each of its spans hangs under a gateway trace.
    assert_eq!(counts.services[1].total, 0, "user-auth-service root traces");
}

/// `docker-compose config` of the offline stack with every default in place (no port or sampler
/// variables from the caller), as JSON (compose prints YAML; PyYAML, which docker-compose itself
/// runs on, converts it).
fn compose_config() -> serde_json::Value {
    let mut command = Command::new("bash");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "-o",
            "pipefail",
            "-c",
            "docker-compose -f docker-compose.yml -f docker-compose.offline.yml config \
             | python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'",
        ]);
    for name in [
        "GATEWAY_PORT",
        "AUTH_PORT",
        "TEMPO_PORT",
        "OTLP_GRPC_PORT",
        "OTLP_HTTP_PORT",
        "GRAFANA_PORT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ] {
        command.env_remove(name);
    }
    let out = command.output().expect("running docker-compose config");
    assert!(
        out.status.success(),
        "docker-compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("compose config as JSON")
}

/// The host port `service` publishes for `container_port`, asserting it is bound to 127.0.0.1.
fn published(config: &serde_json::Value, service: &str, container_port: u16) -> u16 {
    let ports = config["services"][service]["ports"]
        .as_array()
        .unwrap_or_else(|| panic!("{service} publishes no port"));
    for port in ports {
        // Short form as compose prints it: HOST_IP:HOST_PORT:CONTAINER_PORT/PROTO.
        let text = port.as_str().expect("short port syntax");
        let parts: Vec<&str> = text.split(':').collect();
        assert_eq!(parts.len(), 3, "{service}: {text}");
        assert_eq!(
            parts[0], "127.0.0.1",
            "{service} publishes on loopback only"
        );
        if parts[2].trim_end_matches("/tcp") == container_port.to_string() {
            return parts[1].parse().unwrap();
        }
    }
    panic!("{service} does not publish {container_port}: {ports:?}")
}

/// scenarios/compose.toml runs against docker-compose.yml (and its offline override) as shipped:
/// the services it selects exist, its ready check, request and Tempo URL use the ports the stack
/// publishes, the trace services are the names the services report, and those export to `tempo`.
#[test]
fn compose_scenario_matches_the_compose_files() {
    use tracebench::scenario::{ContainerRef, Endpoint, ReadyCheck, Scenario, TraceStore};
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        testkit::skip::missing(
            "compose_scenario_matches_the_compose_files",
            "TRACEBENCH_REQUIRE_DOCKER",
            "docker-compose is not installed",
        );
        return;
    }
    let config = compose_config();
    let scenario = Scenario::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/compose.toml"
    ))
    .unwrap();
    let tracebench::scenario::TargetConfig::Docker { services, .. } = &scenario.target else {
        panic!("compose.toml must use the docker target")
    };
    let gateway_port = published(&config, "api-gateway", 8080);
    let mut service_names = Vec::new();
    for service in services {
        let ContainerRef::Compose {
            service: compose_service,
            project,
        } = &service.container
        else {
            panic!("{}: select by compose service label", service.name)
        };
        assert_eq!(
            project, &None,
            "any project: its name depends on the directory"
        );
        let env = &config["services"][compose_service.as_str()]["environment"];
        assert!(
            env.is_object(),
            "{compose_service} is not in docker-compose.yml"
        );
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://tempo:4317");
        service_names.push(env["OTEL_SERVICE_NAME"].as_str().unwrap().to_string());
        match (compose_service.as_str(), &service.ready) {
            ("api-gateway", Some(ReadyCheck::Http(url))) => {
                assert_eq!(url, &format!("http://127.0.0.1:{gateway_port}/health"))
            }
            ("user-auth-service", None) => {}
            (other, ready) => panic!("{other}: unexpected ready check {ready:?}"),
        }
    }
    service_names.sort();
    let mut expected = scenario.traces.services.clone();
    expected.sort();
    assert_eq!(service_names, expected, "traces.services");
    assert_eq!(scenario.traces.root_service.as_deref(), Some("api-gateway"));
    let Endpoint::Http(http) = &scenario.request.endpoint else {
        panic!("compose.toml sends HTTP to the gateway")
    };
    let url = http.url.to_string();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{gateway_port}/")),
        "{url}"
    );
    let TraceStore::Tempo { url, .. } = &scenario.traces.store else {
        panic!("compose.toml counts traces in Tempo")
    };
    assert_eq!(
        url,
        &format!("http://127.0.0.1:{}", published(&config, "tempo", 3200))
    );
    // Everything the stack publishes is on loopback, the sink's receivers included.
    for (service, port) in [
        ("user-auth-service", 50051),
        ("tempo", 4317),
        ("tempo", 4318),
    ] {
        published(&config, service, port);
    }
    assert_eq!(
        config["services"]["tempo"]["image"],
        "tracebench/tracebench:offline"
    );
}
