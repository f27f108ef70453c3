//! Scenario files: the shipped ones validate, every documented key is read, and each kind of
//! mistake is reported with its file, line, key and what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracebench::exit::Exit;
use tracebench::scenario::{
    Arrivals, ContainerRef, Endpoint, GrpcEndpoint, HttpEndpoint, ReadyCheck, Scenario,
    ServiceRuns, TargetConfig, TraceStore,
};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn fixture(name: &str) -> Scenario {
    Scenario::load(repo(&format!("tests/fixtures/scenarios/{name}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sink(otlp_grpc: &str, otlp_http: &str, api: &str) -> TraceStore {
    TraceStore::Sink {
        otlp_grpc: otlp_grpc.parse().unwrap(),
        otlp_http: otlp_http.parse().unwrap(),
        api: api.parse().unwrap(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn every_shipped_scenario_validates() {
    for name in ["quick", "ci", "compose"] {
        let s = Scenario::load(repo(&format!("scenarios/{name}.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, name);
        assert_eq!(s.baseline, "off");
        let ratios: Vec<f64> = s.modes.iter().map(|m| m.sampling_ratio).collect();
        assert_eq!(ratios, [0.0, 1.0, 0.1], "{name}");
        assert!(!s.plan(1).is_empty());
    }
    let compose = Scenario::load(repo("scenarios/compose.toml")).unwrap();
    assert_eq!(compose.target_kind(), "docker");
    assert!(
        matches!(compose.traces.store, TraceStore::Tempo { ref url, .. } if url == "http://127.0.0.1:3200")
    );
}

#[test]
fn the_shipped_a_b_scenario_crosses_two_builds_with_off_and_on() {
    let s = Scenario::load(repo("scenarios/ab.toml")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["base", "candidate"]);
    let modes: Vec<&str> = s.modes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        modes,
        ["base/off", "base/on", "candidate/off", "candidate/on"]
    );
    assert_eq!(s.baselines(), ["base/off", "candidate/off"]);
    // 4 modes and 2 A/A cells: a square of 6 rounds, one look at the end.
    assert_eq!(s.balanced_rounds(), 6);
    assert_eq!((s.load.rounds, s.load.max_rounds), (6, 6));
    let plan = s.plan(7);
    assert_eq!(plan.len(), 1 + 6 * 6);
    assert_eq!(plan[0].mode, "base/off");
    for round in 0..6 {
        let mut cells: Vec<(String, u32)> = plan
            .iter()
            .filter(|c| c.round == round && !c.discard)
            .map(|c| (c.mode.clone(), c.replicate))
            .collect();
        cells.sort();
        assert_eq!(
            cells,
            [
                ("base/off".to_string(), 0),
                ("base/off".to_string(), 1),
                ("base/on".to_string(), 0),
                ("candidate/off".to_string(), 0),
                ("candidate/off".to_string(), 1),
                ("candidate/on".to_string(), 0),
            ]
        );
    }
}

/// The workflow's A/B scenario runs the default branch's binaries as the base and the pull
/// request's as the candidate, where the workflow builds them.
#[test]
fn the_workflow_s_a_b_scenario_runs_the_two_builds_the_workflow_makes() {
    let s = Scenario::load(repo("examples/github/ab.toml")).unwrap_or_else(|e| panic!("{e}"));
    let TargetConfig::Process { services, .. } = &s.target else {
        panic!("a process target")
    };
    let dir = repo("examples/github");
    for service in services {
        let program = service.command.program.strip_prefix(&dir).unwrap();
        assert!(program.starts_with("../../target/release"), "{program:?}");
        let base = &s.variants[0].services[&service.name];
        let Some(ServiceRuns::Command(c)) = &base.runs else {
            panic!("{base:?}")
        };
        let program = c.program.strip_prefix(&dir).unwrap();
        assert!(
            program.starts_with("../../target-base/release"),
            "{program:?}"
        );
        assert_eq!(
            c.args, service.command.args,
            "the same flags for both builds"
        );
    }
    assert!(
        s.variants[1].services.is_empty(),
        "the candidate is the PR's build"
    );
    let workflow = std::fs::read_to_string(repo("examples/github/tracebench.yml")).unwrap();
    assert!(workflow.contains("--target-dir target-base"));
    assert!(workflow.contains("tracebench run examples/github/ab.toml"));
}

#[test]
fn a_variant_replaces_a_service_s_command_and_adds_its_environment() {
    let text = format!(
        "{BASE}[[variants]]\nname = \"base\"\n[[variants]]\nname = \"next\"\n\
         env = {{ A = \"1\" }}\n[variants.services.app]\ncommand = [\"./app-next\", \"-v\"]\n\
         env = {{ B = \"2\" }}\n"
    );
    let s = Scenario::from_str(&text, "/tmp/x/m.toml").unwrap();
    let next = &s.variants[1];
    assert_eq!(next.env, env(&[("A", "1")]));
    let app = &next.services["app"];
    assert_eq!(app.env, env(&[("B", "2")]));
    let Some(ServiceRuns::Command(c)) = &app.runs else {
        panic!("{app:?}")
    };
    assert_eq!(c.program, Path::new("/tmp/x/./app-next"));
    assert_eq!(c.args, ["-v"]);
    assert_eq!(
        s.variant_of("next/on").map(|v| v.name.as_str()),
        Some("next")
    );
    assert!(s.variants[0].services.is_empty());
}

#[test]
fn the_embedded_default_runs_the_demo_binaries_it_builds() {
    let s = Scenario::quick().unwrap();
    assert_eq!(s, Scenario::load(repo("scenarios/quick.toml")).unwrap());
    let TargetConfig::Process { services, .. } = &s.target else {
        panic!("quick.toml must use the process target")
    };
    let programs: Vec<&Path> = services
        .iter()
        .map(|s| s.command.program.as_path())
        .collect();
    let release = repo("scenarios/../target/release");
    assert_eq!(
        programs,
        [release.join("demo-auth"), release.join("demo-gateway")]
    );
    assert_eq!(s.service_names(), ["auth", "gateway"]);
    let builds = s.build_commands();
    assert_eq!(builds.len(), 1, "the shared build runs once");
    assert_eq!(builds[0].program, Path::new("cargo"));
    assert_eq!(
        builds[0].args,
        ["build", "--release", "-p", "demo", "--bins"]
    );
    assert_eq!(builds[0].cwd, repo("scenarios/.."));
    // The plan the file's header comment budgets for: one discarded cell, then at least 4 and
    // at most 16 rounds of the 3 modes and the baseline's A/A pair at one rate, whole balanced
    // squares, within 6 minutes of cells.
    assert_eq!(s.plan(1).len(), 1 + 16 * 4);
    assert_eq!(s.load.rounds % s.balanced_rounds(), 0);
    assert_eq!(s.load.max_rounds % s.balanced_rounds(), 0);
    assert_eq!(s.load.max_duration, Some(secs(360)));
    assert_eq!(s.load.duration, secs(3));
    assert_eq!(s.load.seed, None, "a new order every run");
}

/// The shipped process scenarios hard-code ports in several places; they must agree, or a run
/// would count no traces (exporter pointed elsewhere) or load a port nothing listens on.
#[test]
fn shipped_process_scenarios_are_wired_consistently() {
    for name in ["quick", "ci", "ab"] {
        let s = Scenario::load(repo(&format!("scenarios/{name}.toml"))).unwrap();
        let TraceStore::Sink { otlp_grpc, .. } = s.traces.store else {
            panic!("{name}: expected the built-in sink")
        };
        let TargetConfig::Process { services, .. } = &s.target else {
            panic!("{name}: expected a process target")
        };
        for service in services {
            assert_eq!(
                service.env["OTEL_EXPORTER_OTLP_ENDPOINT"],
                format!("http://{otlp_grpc}"),
                "{name}: {}",
                service.name
            );
        }
        let Some(ReadyCheck::Http(health)) = &services[1].ready else {
            panic!("{name}: the gateway is ready by its health URL")
        };
        let gateway = health.trim_end_matches("/health");
        assert!(
            s.request_target().starts_with(gateway),
            "{name}: load goes to {}",
            s.request_target()
        );
        let listen = gateway.trim_start_matches("http://");
        assert!(
            services[1].command.args.iter().any(|a| a == listen),
            "{name}: gateway listens on {listen}"
        );
        let Some(ReadyCheck::Tcp(auth)) = &services[0].ready else {
            panic!("{name}: auth is ready by TCP")
        };
        assert!(services[0].command.args.contains(&auth.to_string()));
        assert!(services[1].command.args.contains(&format!("http://{auth}")));
    }
}

#[test]
fn every_key_of_a_process_scenario_is_read() {
    let s = fixture("all_keys_process.toml");
    let dir = repo("tests/fixtures/scenarios");
    assert_eq!(s.name, "every-key");
    assert_eq!(s.description.as_deref(), Some("all keys set"));
    let TargetConfig::Process {
        services,
        ready_timeout,
    } = &s.target
    else {
        panic!("expected a process target, got {:?}", s.target)
    };
    assert_eq!(*ready_timeout, secs(45));
    let [backend, front] = &services[..] else {
        panic!("two services")
    };
    assert_eq!(backend.name, "backend");
    assert_eq!(backend.command.program, dir.join("bin/backend"));
    assert_eq!(backend.command.args, ["--listen", "127.0.0.1:9001"]);
    assert_eq!(backend.command.cwd, dir.join("work"));
    assert_eq!(
        backend.env,
        env(&[("RUST_LOG", "info"), ("OTEL_SERVICE_NAME", "backend-svc")])
    );
    let build = backend.build.as_ref().unwrap();
    assert_eq!(
        (build.program.as_path(), &build.args[..]),
        (Path::new("make"), &["backend".to_string()][..])
    );
    assert_eq!(
        backend.ready,
        Some(ReadyCheck::Tcp("127.0.0.1:9001".parse().unwrap()))
    );
    assert_eq!(front.command.program, Path::new("front-server"));
    assert_eq!(front.command.cwd, dir);
    assert_eq!(
        front.ready,
        Some(ReadyCheck::Http("http://localhost:9000/healthz".into()))
    );
    assert_eq!(
        s.build_commands().len(),
        2,
        "same argv, different cwd: two builds"
    );

    let Endpoint::Http(HttpEndpoint {
        url,
        method,
        headers,
        body,
        expect,
        trace_header,
    }) = &s.request.endpoint
    else {
        panic!("expected an http request")
    };
    assert_eq!(url.to_string(), "http://[::1]:9000/api/v1/items?x=1");
    assert_eq!(method, "PUT");
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        headers,
        [("content-type", "application/json"), ("x-tenant", "acme")]
    );
    let rendered: serde_json::Value =
        serde_json::from_slice(&body.as_ref().unwrap().render(3, "R")).unwrap();
    assert_eq!(
        (&rendered["id"], &rendered["run"]),
        (&"3".into(), &"R".into())
    );
    assert!(
        uuid::Uuid::parse_str(rendered["key"].as_str().unwrap()).is_ok(),
        "{rendered}"
    );
    assert_eq!(expect, &[204, 404]);
    assert_eq!(trace_header, "x-trace-id");
    assert_eq!(s.request.connections, 3);
    assert_eq!(s.request.max_in_flight, 17);
    assert_eq!(s.request.arrivals, Arrivals::Poisson);
    assert_eq!(s.request.timeout, Duration::from_millis(2500));

    assert_eq!(s.baseline, "none");
    let modes: Vec<(&str, f64)> = s
        .modes
        .iter()
        .map(|m| (m.name.as_str(), m.sampling_ratio))
        .collect();
    assert_eq!(modes, [("none", 0.0), ("ratio", 0.25), ("forced", 0.5)]);
    assert_eq!(
        s.mode("ratio").unwrap().env,
        env(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25")
        ])
    );

    assert_eq!(s.load.rates, [12.5, 40.0]);
    assert_eq!(s.load.warmup, secs(60));
    assert_eq!(s.load.duration, secs(90));
    assert_eq!(s.load.rounds, 5);
    assert_eq!(s.load.max_rounds, 9);
    assert_eq!(s.load.max_duration, Some(secs(90 * 60)));
    assert_eq!(s.load.seed, Some(99));
    assert_eq!(s.load.settle, Duration::from_millis(250));
    assert_eq!(s.load.ingestion_wait, secs(20));
    assert_eq!(
        s.plan(0).len(),
        1 + (3 + 1) * 2 * 9,
        "planned up to max_rounds"
    );

    assert!(!s.traces.required);
    assert!(!s.traces.count);
    assert_eq!(s.traces.probes, 0);
    assert_eq!(s.traces.services, ["front-svc", "backend-svc"]);
    assert_eq!(s.traces.root_service.as_deref(), Some("backend-svc"));
    assert_eq!(s.traces.slowest, 5);
    assert_eq!(
        s.traces.link.as_ref().map(|l| l.template()),
        Some("http://127.0.0.1:16686/trace/{trace_id}")
    );
    assert_eq!(
        s.traces.store,
        sink("[::1]:24317", "127.0.0.1:24318", "127.0.0.1:0")
    );

    let b = &s.budgets;
    assert_eq!(
        b.latency_ms,
        [("p90".to_string(), 2.5), ("p999".to_string(), 10.0)].into()
    );
    assert_eq!(b.cpu_pp, Some(0.5));
    assert_eq!(b.memory_mb, Some(30.0));
    assert_eq!(b.memory_expected_mb, Some((5.0, 25.0)));
    assert_eq!(b.trace_volume_tolerance, Some(0.05));
    assert_eq!(b.errors_pp, Some(0.5));
}

#[test]
fn every_key_of_a_docker_scenario_with_grpc_and_tempo_is_read() {
    let s = fixture("all_keys_docker.toml");
    assert_eq!(
        s.name, "all_keys_docker",
        "the name defaults to the file's stem"
    );
    let TargetConfig::Docker {
        services,
        ready_timeout,
    } = &s.target
    else {
        panic!("docker")
    };
    assert_eq!(*ready_timeout, secs(60));
    assert_eq!(
        services[0].container,
        ContainerRef::Name("my-gateway".into())
    );
    assert_eq!(services[0].env, env(&[("OTEL_BSP_SCHEDULE_DELAY", "200")]));
    assert_eq!(
        services[0].ready,
        Some(ReadyCheck::Http("http://127.0.0.1:8080/health".into()))
    );
    assert_eq!(
        services[1].container,
        ContainerRef::Compose {
            service: "user-auth-service".into(),
            project: Some("stack".into())
        }
    );
    let Endpoint::Grpc(GrpcEndpoint { uri, body, .. }) = &s.request.endpoint else {
        panic!("grpc")
    };
    assert_eq!(uri.to_string(), "http://127.0.0.1:50051/");
    assert_eq!(s.load_address(), "127.0.0.1:50051");
    let rendered: serde_json::Value = serde_json::from_slice(&body.render(1, "R")).unwrap();
    assert_eq!(
        (&rendered["username"], &rendered["password"]),
        (&"g1".into(), &"R".into())
    );
    let email = rendered["email"].as_str().unwrap();
    assert!(
        email.ends_with("@x.test") && email.len() == 36 + 7,
        "{email}"
    );
    assert_eq!(s.request_target(), "grpc://127.0.0.1:50051");
    assert_eq!(
        s.traces.store,
        TraceStore::Tempo {
            url: "http://localhost:3200".into(),
            tenant: Some("team-a".into()),
            token_env: Some("TEMPO_TOKEN".into()),
        }
    );
}

#[test]
fn every_key_of_an_external_scenario_is_read_and_defaults_apply() {
    let s = fixture("all_keys_external.toml");
    let TargetConfig::External {
        services,
        ready_timeout,
    } = &s.target
    else {
        panic!("external")
    };
    assert_eq!(*ready_timeout, secs(300));
    assert_eq!(services[0].pids, [4242, 4343]);
    assert_eq!(
        services[0].ready,
        Some(ReadyCheck::Http("http://127.0.0.1:7000/ping".into()))
    );
    assert_eq!(services[1].container.as_deref(), Some("legacy-db"));
    // Everything left out takes its documented default.
    let Endpoint::Http(HttpEndpoint {
        method,
        body,
        expect,
        ..
    }) = &s.request.endpoint
    else {
        panic!("http")
    };
    assert_eq!((method.as_str(), body), ("GET", &None));
    assert_eq!(expect, &[200, 201]);
    assert_eq!((s.request.connections, s.request.max_in_flight), (8, 256));
    assert_eq!(
        (s.request.arrivals, s.request.timeout),
        (Arrivals::Uniform, secs(10))
    );
    assert_eq!(s.baseline, "off");
    let modes: Vec<_> = s
        .modes
        .iter()
        .map(|m| (m.name.as_str(), m.sampling_ratio, m.env.clone()))
        .collect();
    assert_eq!(
        modes,
        [
            (
                "off",
                0.0,
                env(&[
                    ("OTEL_SDK_DISABLED", "true"),
                    ("OTEL_TRACES_SAMPLER", "always_off")
                ])
            ),
            ("on", 1.0, env(&[("OTEL_TRACES_SAMPLER", "always_on")])),
            (
                "sampled",
                0.1,
                env(&[
                    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "0.1")
                ])
            ),
        ]
    );
    let l = &s.load;
    assert_eq!(
        (
            l.warmup,
            l.duration,
            l.rounds,
            l.max_rounds,
            l.max_duration,
            l.seed
        ),
        (secs(2), secs(5), 8, 8, None, None)
    );
    assert_eq!((l.settle, l.ingestion_wait), (secs(1), secs(5)));
    let t = &s.traces;
    assert_eq!(
        (
            t.required,
            t.count,
            t.probes,
            t.services.len(),
            t.root_service.clone()
        ),
        (true, true, 5, 0, None)
    );
    assert_eq!(
        t.store,
        sink("127.0.0.1:14317", "127.0.0.1:14318", "127.0.0.1:13200")
    );
    let b = &s.budgets;
    assert_eq!(
        b.latency_ms,
        [("p50".to_string(), 1.0), ("p99".to_string(), 1.0)].into()
    );
    assert_eq!(
        (
            b.cpu_pp,
            b.memory_mb,
            b.memory_expected_mb,
            b.trace_volume_tolerance,
            b.errors_pp
        ),
        (
            Some(1.0),
            Some(20.0),
            Some((10.0, 20.0)),
            Some(0.0),
            Some(0.1)
        )
    );
}

/// A valid scenario that each mistake below edits. Line numbers matter to the expectations.
const BASE: &str = r#"[target]
kind = "process"
[[target.services]]
name = "app"
command = ["./app"]
tcp = "127.0.0.1:9000"
[request]
url = "http://127.0.0.1:9000/"
[load]
rates = [10]
duration = "2s"
"#;

#[test]
fn the_base_of_the_mistakes_is_valid() {
    Scenario::from_str(BASE, "m.toml").unwrap();
}

#[test]
fn each_kind_of_mistake_names_file_line_key_and_expectation() {
    // (what is wrong, text replaced in BASE, its replacement, the exact error)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "unknown key",
            "duration = \"2s\"",
            "duraton = \"2s\"",
            "m.toml:11: load.duraton: unknown field `duraton`, expected one of `rates`, `warmup`, `duration`, `rounds`, `max_rounds`, `max_duration`, `seed`, `settle`, `ingestion_wait`",
        ),
        (
            "unknown service key",
            "tcp = \"127.0.0.1:9000\"",
            "port = 9000",
            "m.toml:6: target.services[0].port: unknown field `port`, expected one of `name`, `command`, `env`, `cwd`, `build`, `health`, `tcp`, `container`, `compose_service`, `compose_project`, `pids`",
        ),
        (
            "credentials in the file",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nstore = \"tempo\"\n[traces.tempo]\nurl = \"http://127.0.0.1:3200\"\npassword = \"hunter2\"",
            "m.toml:16: traces.tempo.password: unknown field `password`, expected one of `url`, `tenant`, `token_env`",
        ),
        (
            "name with a slash",
            "[target]",
            "name = \"a/b\"\n[target]",
            "m.toml:1: name: expected a non-empty name without `/` (it names the run directory), got \"a/b\"",
        ),
        (
            "unknown target kind",
            "kind = \"process\"",
            "kind = \"vm\"",
            "m.toml:2: target.kind: unknown variant `vm`, expected one of `process`, `docker`, `external`",
        ),
        (
            "wrong type",
            "rates = [10]",
            "rates = [\"fast\"]",
            "m.toml:10: load.rates[0]: invalid type: string \"fast\", expected f64",
        ),
        (
            "missing required key",
            "rates = [10]\n",
            "",
            "m.toml:9: load: missing field `rates`",
        ),
        (
            "missing required table",
            "[load]\nrates = [10]\nduration = \"2s\"\n",
            "",
            "m.toml:1: missing field `load`",
        ),
        (
            "negative rate",
            "rates = [10]",
            "rates = [\n  10,\n  -5,\n]",
            "m.toml:12: load.rates[1]: expected requests per second from 0.001 to 1000000, got -5.0",
        ),
        (
            "rate too small to schedule",
            "rates = [10]",
            "rates = [1e-300]",
            "m.toml:10: load.rates[0]: expected requests per second from 0.001 to 1000000, got 1e-300",
        ),
        (
            "zero rate",
            "rates = [10]",
            "rates = [0]",
            "m.toml:10: load.rates[0]: expected requests per second from 0.001 to 1000000, got 0.0",
        ),
        (
            "duration beyond 30 days",
            "duration = \"2s\"",
            "duration = \"100years\"",
            "m.toml:11: load.duration: expected at most 30 days, got \"100years\"",
        ),
        (
            "duration under a second",
            "duration = \"2s\"",
            "duration = \"500ms\"",
            "m.toml:11: load.duration: expected at least 1s of measurement per cell, got 500ms",
        ),
        (
            "unreadable duration",
            "duration = \"2s\"",
            "duration = \"two seconds\"",
            "m.toml:11: load.duration: expected a duration such as \"10s\", \"500ms\" or \"1m 30s\", got \"two seconds\"",
        ),
        (
            "duration as a number",
            "duration = \"2s\"",
            "duration = 2",
            "m.toml:11: load.duration: invalid type: integer `2`, expected a duration such as \"10s\", \"500ms\" or \"1m 30s\"",
        ),
        (
            "no rounds",
            "duration = \"2s\"",
            "duration = \"2s\"\nrounds = 0",
            "m.toml:12: load.rounds: expected at least 1 round",
        ),
        (
            "fewer max_rounds than rounds",
            "duration = \"2s\"",
            "duration = \"2s\"\nrounds = 8\nmax_rounds = 4",
            "m.toml:13: load.max_rounds: expected at least load.rounds (8), the rounds before the first look; got 4",
        ),
        (
            "a zero time cap",
            "duration = \"2s\"",
            "duration = \"2s\"\nmax_duration = \"0s\"",
            "m.toml:12: load.max_duration: expected a duration above zero",
        ),
        (
            "unreadable time cap",
            "duration = \"2s\"",
            "duration = \"2s\"\nmax_duration = 600",
            "m.toml:12: load.max_duration: invalid type: integer `600`, expected a duration such as \"10s\", \"500ms\" or \"1m 30s\"",
        ),
        (
            "baseline not among the modes",
            "duration = \"2s\"",
            "duration = \"2s\"\n[modes]\nbaseline = \"nothing\"",
            "m.toml:13: modes.baseline: expected one of the modes (\"off\", \"on\", \"sampled\"), got \"nothing\"",
        ),
        (
            "default baseline missing from the listed modes",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"on\"",
            "m.toml:12: modes.baseline: expected one of the modes (\"on\"), got \"off\"",
        ),
        (
            "sampler argument out of range",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"off\"\nenv = { OTEL_TRACES_SAMPLER = \"traceidratio\", OTEL_TRACES_SAMPLER_ARG = \"1.5\" }",
            "m.toml:14: modes.mode[0].env.OTEL_TRACES_SAMPLER_ARG: expected a sampling ratio between 0 and 1, got \"1.5\"",
        ),
        (
            "unknown sampler",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"off\"\nenv = { OTEL_TRACES_SAMPLER = \"sometimes\" }",
            "m.toml:14: modes.mode[0].env.OTEL_TRACES_SAMPLER: expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, got \"sometimes\"",
        ),
        (
            "sampling ratio out of range",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"off\"\nsampling_ratio = -0.5",
            "m.toml:14: modes.mode[0].sampling_ratio: expected a sampling ratio between 0 and 1, got -0.5",
        ),
        (
            "duplicate mode",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"off\"\n[[modes.mode]]\nname = \"off\"",
            "m.toml:15: modes.mode[1].name: duplicate mode name \"off\"",
        ),
        (
            "no services",
            "[[target.services]]\nname = \"app\"\ncommand = [\"./app\"]\ntcp = \"127.0.0.1:9000\"\n",
            "",
            "m.toml:1: target.services: expected at least one [[target.services]] entry",
        ),
        (
            "duplicate service",
            "[request]",
            "[[target.services]]\nname = \"app\"\ncommand = [\"./app2\"]\n[request]",
            "m.toml:8: target.services[1].name: duplicate service name \"app\"",
        ),
        (
            "process service without a command",
            "command = [\"./app\"]\n",
            "",
            "m.toml:3: target.services[0].command: expected a command: an array of program and arguments",
        ),
        (
            "empty command",
            "command = [\"./app\"]",
            "command = []",
            "m.toml:5: target.services[0].command: expected a non-empty array: the program, then its arguments",
        ),
        (
            "key of another target kind",
            "tcp = \"127.0.0.1:9000\"",
            "container = \"app\"",
            "m.toml:6: target.services[0].container: not used by a process target; expected only name, command, env, cwd, build, health, tcp",
        ),
        (
            "docker service that names no container",
            "kind = \"process\"\n[[target.services]]\nname = \"app\"\ncommand = [\"./app\"]",
            "kind = \"docker\"\n[[target.services]]\nname = \"app\"",
            "m.toml:4: target.services[0].name: expected `container` (a container name) or `compose_service` (a compose service label) beside the name",
        ),
        (
            "docker service with a command",
            "kind = \"process\"",
            "kind = \"docker\"",
            "m.toml:5: target.services[0].command: not used by a docker target; expected only name, container, compose_service, compose_project, env, health, tcp",
        ),
        (
            "external service sampled from processes and a container",
            "kind = \"process\"\n[[target.services]]\nname = \"app\"\ncommand = [\"./app\"]",
            "kind = \"external\"\n[[target.services]]\nname = \"app\"\npids = [1]\ncontainer = \"app-1\"",
            "m.toml:6: target.services[0].container: expected `pids` (local processes) or `container`, not both: a service's CPU and memory come from one source",
        ),
        (
            "compose project without a compose service",
            "kind = \"process\"\n[[target.services]]\nname = \"app\"\ncommand = [\"./app\"]",
            "kind = \"docker\"\n[[target.services]]\nname = \"app\"\ncontainer = \"app-1\"\ncompose_project = \"p\"",
            "m.toml:6: target.services[0].compose_project: goes with `compose_service`; a `container` is found by its name alone",
        ),
        (
            "tempo table with the sink",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces.tempo]\nurl = \"http://127.0.0.1:3200\"",
            "m.toml:12: traces.tempo: only used with store = \"tempo\"",
        ),
        (
            "two ready checks",
            "tcp = \"127.0.0.1:9000\"",
            "health = \"http://127.0.0.1:9000/health\"\ntcp = \"127.0.0.1:9000\"",
            "m.toml:7: target.services[0].tcp: expected one ready check, `health` or `tcp`, not both",
        ),
        (
            "non-loopback ready check",
            "tcp = \"127.0.0.1:9000\"",
            "tcp = \"192.168.1.20:9000\"",
            "m.toml:6: target.services[0].tcp: expected a loopback address such as \"127.0.0.1:4317\" or \"[::1]:4317\", got \"192.168.1.20:9000\": tracebench binds and connects only on this machine",
        ),
        (
            "url not http",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"ftp://127.0.0.1/file\"",
            "m.toml:8: request.url: expected an http:// URL, got \"ftp://127.0.0.1/file\"",
        ),
        (
            "https url",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"https://127.0.0.1:9443/\"",
            "m.toml:8: request.url: got \"https://127.0.0.1:9443/\": https is not supported yet (no TLS); expected an http:// URL",
        ),
        (
            "url not loopback",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://10.1.2.3:9000/\"",
            "m.toml:8: request.url: expected a loopback host (127.0.0.1, ::1 or localhost), got \"10.1.2.3\": tracebench sends load only to this machine",
        ),
        (
            "unknown body placeholder",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://127.0.0.1:9000/\"\nbody = \"id={sequence}\"",
            "m.toml:9: request.body: unknown placeholder {sequence}; expected {seq}, {uuid} or {run}",
        ),
        (
            "bad method",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://127.0.0.1:9000/\"\nmethod = \"post\"",
            "m.toml:9: request.method: expected an HTTP method such as \"GET\" or \"POST\", got \"post\"",
        ),
        (
            "bad status",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://127.0.0.1:9000/\"\nexpect = [200, 700]",
            "m.toml:9: request.expect[1]: expected an HTTP status between 100 and 599, got 700",
        ),
        (
            "http key in a grpc request",
            "url = \"http://127.0.0.1:9000/\"",
            "kind = \"grpc\"\naddr = \"127.0.0.1:50051\"\nurl = \"http://127.0.0.1:9000/\"",
            "m.toml:10: request.url: is for kind = \"http\"; a gRPC request is given by `addr` and `body`",
        ),
        (
            "grpc body not a register request",
            "url = \"http://127.0.0.1:9000/\"",
            "kind = \"grpc\"\naddr = \"127.0.0.1:50051\"\nbody = '{\"user\":\"{seq}\"}'",
            "m.toml:10: request.body: expected a JSON object with string fields username, email and password",
        ),
        (
            "no connections",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://127.0.0.1:9000/\"\nconnections = 0",
            "m.toml:9: request.connections: expected at least 1 connection",
        ),
        (
            "trace header not a header name",
            "url = \"http://127.0.0.1:9000/\"",
            "url = \"http://127.0.0.1:9000/\"\ntrace_header = \"trace id\"",
            "m.toml:9: request.trace_header: expected a header name such as \"traceresponse\", got \"trace id\"",
        ),
        (
            "trace link without the trace",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nlink = \"http://127.0.0.1:3000/explore\"",
            "m.toml:13: traces.link: expected a URL template containing {trace_id} (and optionally {start_ms} and {end_ms}), got \"http://127.0.0.1:3000/explore\"",
        ),
        (
            "too many slowest requests",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nslowest = 1000",
            "m.toml:13: traces.slowest: expected at most 100 requests, got 1000",
        ),
        (
            "non-loopback sink bind",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces.sink]\notlp_grpc = \"0.0.0.0:4317\"",
            "m.toml:13: traces.sink.otlp_grpc: expected a loopback address such as \"127.0.0.1:4317\" or \"[::1]:4317\", got \"0.0.0.0:4317\": tracebench binds and connects only on this machine",
        ),
        (
            "sink ports collide",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces.sink]\notlp_grpc = \"127.0.0.1:4317\"\notlp_http = \"127.0.0.1:4317\"",
            "m.toml:14: traces.sink.otlp_http: expected a port other than otlp_grpc's",
        ),
        (
            "tempo without its table",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nstore = \"tempo\"",
            "m.toml:13: traces.store: store = \"tempo\" expects a [traces.tempo] table with its `url`",
        ),
        (
            "tempo url not http",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nstore = \"tempo\"\ntempo = { url = \"tempo:3200\" }",
            "m.toml:14: traces.tempo.url: expected an http:// URL, got \"tempo:3200\"",
        ),
        (
            "root service not expected",
            "duration = \"2s\"",
            "duration = \"2s\"\n[traces]\nservices = [\"a\", \"b\"]\nroot_service = \"c\"",
            "m.toml:14: traces.root_service: expected one of traces.services, got \"c\"",
        ),
        (
            "unknown percentile",
            "duration = \"2s\"",
            "duration = \"2s\"\n[budgets]\nlatency_ms = { p75 = 1.0 }",
            "m.toml:13: budgets.latency_ms.p75: expected a percentile name: p50, p90, p99, p999, max, mean",
        ),
        (
            "negative budget",
            "duration = \"2s\"",
            "duration = \"2s\"\n[budgets]\ncpu_pp = -1",
            "m.toml:13: budgets.cpu_pp: expected a number >= 0 percentage points, got -1",
        ),
        (
            "memory range upside down",
            "duration = \"2s\"",
            "duration = \"2s\"\n[budgets]\nmemory_expected_mb = [20, 10]",
            "m.toml:13: budgets.memory_expected_mb: expected [low, high] MB with 0 <= low <= high, got [20, 10]",
        ),
        (
            "TOML syntax",
            "rates = [10]",
            "rates = [10",
            "m.toml:11: missing comma between array elements, expected `,`",
        ),
        (
            "one variant",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[variants]]\nname = \"base\"",
            "m.toml:12: variants: expected at least two [[variants]] (a base and a candidate), or none",
        ),
        (
            "variant of an unknown service",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[variants]]\nname = \"a\"\n[[variants]]\nname = \"b\"\n[variants.services.api]\ncommand = [\"./app2\"]",
            "m.toml:16: variants[1].services.api: no service \"api\" in [[target.services]] (expected one of app)",
        ),
        (
            "an image for a process",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[variants]]\nname = \"a\"\n[[variants]]\nname = \"b\"\n[variants.services.app]\nimage = \"app:2\"",
            "m.toml:17: variants[1].services.app.image: a process service runs a `command`, not an image",
        ),
        (
            "duplicate variant",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[variants]]\nname = \"a\"\n[[variants]]\nname = \"a\"",
            "m.toml:15: variants[1].name: duplicate variant name \"a\"",
        ),
        (
            "mode name with a slash",
            "duration = \"2s\"",
            "duration = \"2s\"\n[[modes.mode]]\nname = \"on/x\"",
            "m.toml:13: modes.mode[0].name: expected a non-empty mode name without `/`, got \"on/x\"",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, find, replace, expected) in cases {
        assert!(BASE.contains(find), "{what}: {find:?} is not in BASE");
        let text = BASE.replacen(find, replace, 1);
        let got = match Scenario::from_str(&text, "m.toml") {
            Ok(_) => "accepted".to_string(),
            Err(e) => e.to_string(),
        };
        if got != *expected {
            wrong.push(format!("{what}:\n  expected {expected}\n  got      {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_missing_file_is_named_and_bad_scenarios_exit_2() {
    let err = Scenario::load("no/such/scenario.toml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no/such/scenario.toml: cannot read the scenario: "),
        "{err}"
    );
    let bad = Scenario::from_str("[load]\nrates = [-1]\n", "x.toml").unwrap_err();
    let err = anyhow::Error::new(bad).context("loading the scenario");
    assert_eq!(Exit::of_error(&err), Exit::Usage);
}
