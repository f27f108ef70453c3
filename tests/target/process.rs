//! The process target with real local processes: modes applied by restart with the overrides,
//! output captured in the run directory, PIDs for the samplers, and clear errors that leave
//! nothing running.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracebench::control::process::{ProcessTarget, ServiceCommand};
use tracebench::control::{ModeEnv, Readiness, Shutdown, Target};
use tracebench::resources::Source;

use testkit::net::*;
use testkit::target::*;

fn service(name: &str, port: u16, extra: &[(&str, &str)]) -> ServiceCommand {
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let mut env: BTreeMap<String, String> = env.into_iter().collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ServiceCommand {
        name: name.into(),
        program,
        args,
        env,
        cwd: None,
        readiness: Readiness::Http(format!("http://127.0.0.1:{port}/health")),
    }
}

fn alive(pid: u32) -> bool {
    // A reaped child has no /proc entry; a zombie would, so check its state too.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn pids(target: &Target) -> Vec<u32> {
    target
        .sources()
        .into_iter()
        .flat_map(|s| match s {
            Source::Process { pids, .. } => pids,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn modes_restart_the_services_with_their_overrides_and_restore_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let services = vec![service("auth", ports[0], &[]), service("gw", ports[1], &[])];
    let mut target = Target::Process(ProcessTarget::new(services, dir.path().to_path_buf()));
    let mut seen_pids = Vec::new();
    for mode in ["off", "on", "sampled"] {
        let env = standard_mode(mode, 0.25).unwrap();
        target
            .apply(
                &ModeEnv::uniform(mode, ["auth", "gw"], &env),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        for port in ports {
            let got = http_get(port, "/env/OTEL_TRACES_SAMPLER");
            assert_eq!(
                got,
                Some((200, env["OTEL_TRACES_SAMPLER"].clone())),
                "{mode}"
            );
        }
        let now = pids(&target);
        assert_eq!(now.len(), 2);
        for pid in &seen_pids {
            assert!(!alive(*pid), "the previous mode's process {pid} still runs");
        }
        seen_pids = now;
    }
    assert_eq!(
        http_get(ports[0], "/env/OTEL_TRACES_SAMPLER_ARG"),
        Some((200, "0.25".into()))
    );
    target.restore().await.unwrap();
    for pid in &seen_pids {
        assert!(!alive(*pid), "process {pid} survived restore");
    }
    assert!(target.sources().is_empty());
    let log = std::fs::read_to_string(dir.path().join("gw.log")).unwrap();
    assert_eq!(
        log.matches("---- tracebench: starting in mode").count(),
        3,
        "{log}"
    );
    assert!(log.contains("helper: listening on"), "{log}");
}

#[tokio::test]
async fn a_command_that_does_not_exist_is_a_clear_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut ghost = service("ghost", free_port(), &[]);
    ghost.program = PathBuf::from("/nonexistent/tracebench-no-such-program");
    let services = vec![service("auth", port, &[]), ghost];
    let mut target = Target::Process(ProcessTarget::new(services, dir.path().to_path_buf()));
    let err = target
        .apply(
            &ModeEnv::uniform("on", ["auth"], &BTreeMap::new()),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("service 'ghost': cannot start '/nonexistent/tracebench-no-such-program'"),
        "{text}"
    );
    assert!(text.contains("No such file or directory"), "{text}");
    assert!(target.sources().is_empty(), "auth was left running");
    assert!(http_get(port, "/health").is_none(), "auth still answers");
    target.restore().await.unwrap();
}

#[tokio::test]
async fn a_service_that_exits_or_never_listens_is_named_with_its_last_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let services = vec![service("auth", free_port(), &[("TB_HELPER_EXIT", "3")])];
    let mut target = Target::Process(ProcessTarget::new(services, dir.path().to_path_buf()));
    let err = target
        .apply(&ModeEnv::default(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert_not_ready(&err, "auth", "exited", "failing on purpose with code 3");

    // Listens, but not where readiness looks: bounded by ready_timeout, then stopped.
    let mut deaf = service("gw", free_port(), &[]);
    deaf.readiness = Readiness::Tcp(([127, 0, 0, 1], free_port()).into());
    let mut process = ProcessTarget::new(vec![deaf], dir.path().to_path_buf());
    process.ready_timeout = Duration::from_secs(2);
    let mut target = Target::Process(process);
    let err = target
        .apply(&ModeEnv::default(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("service 'gw' did not become ready: not ready after 2s"));
    assert!(target.sources().is_empty());
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // `sh -c 'trap "" TERM; ...'` ignores SIGTERM: only SIGKILL ends it.
    let port = free_port();
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let mut script = format!("trap '' TERM; exec {}", program.display());
    for a in &args {
        script += &format!(" {a}");
    }
    let stubborn = ServiceCommand {
        name: "stubborn".into(),
        program: "sh".into(),
        args: vec!["-c".into(), script],
        env: env.into_iter().collect(),
        cwd: Some(dir.path().to_path_buf()),
        readiness: Readiness::Tcp(([127, 0, 0, 1], port).into()),
    };
    let mut process = ProcessTarget::new(vec![stubborn], dir.path().to_path_buf());
    process.stop_grace = Duration::from_millis(500);
    let mut target = Target::Process(process);
    target
        .apply(&ModeEnv::default(), &CancellationToken::new())
        .await
        .unwrap();
    let pid = pids(&target)[0];
    target.restore().await.unwrap();
    assert!(!alive(pid), "SIGKILL did not follow the ignored SIGTERM");
}

#[tokio::test]
async fn a_process_target_is_built_from_the_scenario_model() {
    use tracebench::scenario;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let spec = scenario::TargetConfig::Process {
        services: vec![scenario::ProcessService {
            name: "svc".into(),
            command: scenario::CommandLine {
                program,
                args,
                cwd: dir.path().to_path_buf(),
            },
            env: env.into_iter().collect(),
            ready: Some(scenario::ReadyCheck::Http(format!(
                "http://127.0.0.1:{port}/health"
            ))),
            build: None,
        }],
        ready_timeout: Duration::from_secs(30),
    };
    let mut target = Target::from_scenario(&spec, dir.path(), false)
        .await
        .unwrap();
    let mode = ModeEnv::uniform("on", ["svc"], &BTreeMap::from([("M".into(), "on".into())]));
    let shutdown = Shutdown::watch();
    let answered = target
        .guarded(&shutdown, async |t, cancel| {
            t.apply(&mode, cancel).await?;
            Ok(http_get(port, "/env/M"))
        })
        .await
        .unwrap();
    assert_eq!(shutdown.stop(), None);
    assert_eq!(answered, Some((200, "on".to_string())));
    assert!(target.sources().is_empty(), "guarded restored (stopped) it");
    assert!(dir.path().join("svc.log").exists());
}

#[tokio::test]
async fn withheld_variables_do_not_reach_the_services_unless_the_scenario_sets_them() {
    // PATH stands in for a secret: tracebench has it, so a service would inherit it.
    assert!(std::env::var("PATH").is_ok());
    let dir = tempfile::tempdir().unwrap();
    let (plain, given) = (free_port(), free_port());
    let services = vec![
        service("plain", plain, &[]),
        service("given", given, &[("PATH", "/set/by/the/scenario")]),
    ];
    let mut process = ProcessTarget::new(services, dir.path().to_path_buf());
    process.withheld_env = vec!["PATH".into()];
    let mut target = Target::Process(process);
    target
        .apply(&ModeEnv::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(http_get(plain, "/env/PATH"), Some((404, String::new())));
    assert_eq!(
        http_get(given, "/env/PATH"),
        Some((200, "/set/by/the/scenario".into()))
    );
    target.restore().await.unwrap();
}
