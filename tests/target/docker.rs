//! The docker target on the real Docker Engine: modes applied by recreating containers, restore
//! exactly as before, clear errors that change nothing, and restore after SIGINT.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use tokio_util::sync::CancellationToken;
use tracebench::control::docker::{
    COMPOSE_SERVICE_LABEL, ContainerSpec, DockerTarget, MODE_LABEL, RUN_LABEL, Selector,
};
use tracebench::control::journal::{self, Entry, Journal};
use tracebench::control::{ModeEnv, Readiness, Shutdown, Target};
use tracebench::scenario::ServiceRuns;

use testkit::net::*;
use testkit::target::*;

const IMAGE: &str = "tracebench-test/target-docker:latest";

/// What restore must bring back, as `docker inspect` shows it.
#[derive(Debug, PartialEq)]
struct Shape {
    id: String,
    image: String,
    env: Vec<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    ports: String,
    binds: Option<Vec<String>>,
    restart: String,
    healthcheck: String,
    networks: BTreeMap<String, Vec<String>>,
    running: bool,
}

fn shape(c: &ContainerInspectResponse) -> Shape {
    let config = c.config.clone().unwrap();
    let host = c.host_config.clone().unwrap();
    // Docker adds the container's short ID and hostname as aliases on its own; a mode container
    // keeps the original's hostname, so both are left out of the comparison.
    let short_id: String = c.id.clone().unwrap().chars().take(12).collect();
    let hostname = config.hostname.clone().unwrap_or_default();
    Shape {
        id: c.id.clone().unwrap(),
        image: c.image.clone().unwrap(),
        env: config.env.unwrap_or_default(),
        cmd: config.cmd,
        entrypoint: config.entrypoint,
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        ports: format!("{:?}", host.port_bindings),
        binds: host.binds,
        restart: format!("{:?}", host.restart_policy),
        healthcheck: format!("{:?}", config.healthcheck),
        networks: c
            .network_settings
            .clone()
            .unwrap()
            .networks
            .unwrap_or_default()
            .into_iter()
            .map(|(name, e)| {
                let mut aliases: Vec<String> = e
                    .aliases
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| *a != short_id && *a != hostname)
                    .collect();
                aliases.sort();
                (name, aliases)
            })
            .collect(),
        running: c.state.clone().unwrap().running == Some(true),
    }
}

async fn inspect(docker: &Docker, name: &str) -> ContainerInspectResponse {
    docker.inspect_container(name, None).await.unwrap()
}

async fn shape_of(docker: &Docker, name: &str) -> Shape {
    shape(&inspect(docker, name).await)
}

/// Both containers' shapes, gateway first.
async fn shapes(docker: &Docker, s: &Stack) -> [Shape; 2] {
    [
        shape_of(docker, &s.names[0]).await,
        shape_of(docker, &s.names[1]).await,
    ]
}

async fn stop(docker: &Docker, name: &str) {
    docker
        .stop_container(
            name,
            None::<bollard::query_parameters::StopContainerOptions>,
        )
        .await
        .unwrap();
}

/// Mode `mode` (the standard one, 10% when sampled) for `services`.
fn mode_env<const N: usize>(mode: &str, services: [&str; N]) -> ModeEnv {
    ModeEnv::uniform(mode, services, &standard_mode(mode, 0.1).unwrap())
}

fn env_of(c: &ContainerInspectResponse) -> Vec<String> {
    c.config.clone().unwrap().env.unwrap_or_default()
}

/// Two services on their own network, one found by name and one by compose label.
struct Stack {
    names: [String; 2],
    ports: [u16; 2],
    label: String,
    _cleanup: Cleanup,
}

async fn stack(docker: &Docker, prefix: &str) -> Stack {
    testkit::helper::image(IMAGE);
    let base = unique(prefix);
    let network = format!("{base}-net");
    let names = [format!("{base}-gw"), format!("{base}-auth")];
    let ports = [free_port(), free_port()];
    let label = format!("{base}-auth-svc");
    let cleanup = Cleanup {
        containers: names.to_vec(),
        networks: vec![network.clone()],
    };
    create_network(docker, &network).await;
    let env = [
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
        ("KEEP", "me"),
    ];
    create_service(
        docker,
        IMAGE,
        &names[0],
        &network,
        ports[0],
        &env,
        &[("app", "gw")],
    )
    .await;
    let labels = [(COMPOSE_SERVICE_LABEL, label.as_str()), ("app", "auth")];
    create_service(docker, IMAGE, &names[1], &network, ports[1], &env, &labels).await;
    for port in ports {
        assert!(
            wait_http(port, Duration::from_secs(30)),
            "helper on {port} never answered"
        );
    }
    Stack {
        names,
        ports,
        label,
        _cleanup: cleanup,
    }
}

async fn target(docker: &Docker, s: &Stack) -> Target {
    let specs = vec![
        ContainerSpec {
            service: "gw".into(),
            selector: Selector::Name(s.names[0].clone()),
            env: BTreeMap::new(),
            readiness: Readiness::Http(format!("http://127.0.0.1:{}/health", s.ports[0])),
        },
        ContainerSpec {
            service: "auth".into(),
            selector: Selector::ComposeService {
                service: s.label.clone(),
                project: None,
            },
            env: BTreeMap::from([("BASE".to_string(), "added".to_string())]),
            readiness: Readiness::Tcp(([127, 0, 0, 1], s.ports[1]).into()),
        },
    ];
    Target::Docker(DockerTarget::new(docker.clone(), specs).await.unwrap())
}

#[tokio::test]
async fn each_mode_is_applied_and_restore_brings_back_the_originals() {
    let Some(docker) =
        docker_or_skip("each_mode_is_applied_and_restore_brings_back_the_originals").await
    else {
        return;
    };
    let s = stack(&docker, "tb-modes").await;
    let before = shapes(&docker, &s).await;
    let mut target = target(&docker, &s).await;
    for mode in ["off", "on", "sampled", "off"] {
        let env = standard_mode(mode, 0.1).unwrap();
        target
            .apply(
                &ModeEnv::uniform(mode, ["gw", "auth"], &env),
                &CancellationToken::new(),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {mode}: {e:#}"));
        for (i, name) in s.names.iter().enumerate() {
            let now = inspect(&docker, name).await;
            let now_env = env_of(&now);
            for (k, v) in &env {
                assert!(
                    now_env.contains(&format!("{k}={v}")),
                    "{mode} {name}: {now_env:?}"
                );
            }
            assert!(now_env.contains(&"KEEP=me".to_string()));
            assert_eq!(
                now_env.contains(&"BASE=added".to_string()),
                i == 1,
                "{now_env:?}"
            );
            let labels = now.config.clone().unwrap().labels.unwrap();
            assert_eq!(labels.get(MODE_LABEL).map(String::as_str), Some(mode));
            let mut shape_now = shape(&now);
            assert_ne!(shape_now.id, before[i].id, "a mode runs in a new container");
            // Everything else as before: image, command, ports, mounts, networks and aliases...
            shape_now.id = before[i].id.clone();
            shape_now.env = before[i].env.clone();
            shape_now.labels.remove(MODE_LABEL);
            shape_now.labels.remove(RUN_LABEL);
            assert_eq!(
                shape_now, before[i],
                "{mode}: {name} differs beyond env and label"
            );
            // ...and the service answers on its published 127.0.0.1 port, in that mode.
            let sampler = http_get(s.ports[i], "/env/OTEL_TRACES_SAMPLER");
            assert_eq!(
                sampler,
                Some((200, env["OTEL_TRACES_SAMPLER"].clone())),
                "{mode} {name}"
            );
        }
        let sources = target.sources();
        assert_eq!(sources.len(), 2);
    }
    target.restore().await.unwrap();
    target.restore().await.unwrap(); // idempotent
    for (i, name) in s.names.iter().enumerate() {
        assert_eq!(
            shape_of(&docker, name).await,
            before[i],
            "{name} after restore"
        );
        assert!(wait_http(s.ports[i], Duration::from_secs(30)));
        let sampler = http_get(s.ports[i], "/env/OTEL_TRACES_SAMPLER");
        assert_eq!(sampler, Some((200, "parentbased_always_on".to_string())));
    }
    assert_no_mode_containers(&s.names);
}

#[tokio::test]
async fn a_variant_s_image_runs_in_its_cells_and_restore_brings_back_the_original() {
    let Some(docker) = docker_or_skip("a_variant_s_image_runs_in_its_cells").await else {
        return;
    };
    // A second tag, as a candidate build's image would be.
    let variant = testkit::helper::image("tracebench-test/target-docker:variant");
    let s = stack(&docker, "tb-variant").await;
    let before = shapes(&docker, &s).await;
    let mut target = target(&docker, &s).await;
    let mut mode = mode_env("on", ["gw", "auth"]);
    mode.runs
        .insert("gw".into(), ServiceRuns::Image(variant.clone()));
    target
        .apply(&mode, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("apply: {e:#}"));
    let image = |c: ContainerInspectResponse| c.config.unwrap().image.unwrap_or_default();
    assert_eq!(image(inspect(&docker, &s.names[0]).await), variant);
    assert_ne!(image(inspect(&docker, &s.names[1]).await), variant);
    let sampler = http_get(s.ports[0], "/env/OTEL_TRACES_SAMPLER");
    assert_eq!(sampler, Some((200, "always_on".to_string())));
    target.restore().await.unwrap();
    assert_eq!(shapes(&docker, &s).await, before, "after restore");
    assert_no_mode_containers(&s.names);
}

/// A token cancelled `after_ms` from now, and the task that cancels it.
fn cancel_after(after_ms: u64) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let pull = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        trigger.cancel();
    });
    (cancel, pull)
}

/// Both containers of the stack have their shape `before`, and no mode container is left.
async fn assert_as_before(docker: &Docker, s: &Stack, before: &[Shape; 2], when: &str) {
    for (name, before) in s.names.iter().zip(before) {
        assert_eq!(
            &shape(&inspect(docker, name).await),
            before,
            "{name} {when}"
        );
    }
    assert_no_mode_containers(&s.names);
}

fn assert_no_mode_containers(names: &[String]) {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={MODE_LABEL}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    for name in names {
        assert!(!listed.contains(name.as_str()), "left behind: {listed}");
    }
}

#[tokio::test]
async fn a_missing_container_is_a_clear_error_and_nothing_changes() {
    let Some(docker) =
        docker_or_skip("a_missing_container_is_a_clear_error_and_nothing_changes").await
    else {
        return;
    };
    let s = stack(&docker, "tb-missing").await;
    let before = shape_of(&docker, &s.names[0]).await;
    let missing = unique("tb-no-such");
    let specs = vec![
        ContainerSpec {
            service: "gw".into(),
            selector: Selector::Name(s.names[0].clone()),
            env: BTreeMap::new(),
            readiness: Readiness::Started,
        },
        ContainerSpec {
            service: "ghost".into(),
            selector: Selector::Name(missing.clone()),
            env: BTreeMap::new(),
            readiness: Readiness::Started,
        },
    ];
    let err = DockerTarget::new(docker.clone(), specs)
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains(&format!("container '{missing}' not found")),
        "{text}"
    );
    assert!(text.contains("service 'ghost'"), "{text}");
    let by_label = vec![ContainerSpec {
        service: "auth".into(),
        selector: Selector::ComposeService {
            service: "no-such-compose-service".into(),
            project: Some("no-such-project".into()),
        },
        env: BTreeMap::new(),
        readiness: Readiness::Started,
    }];
    let err = DockerTarget::new(docker.clone(), by_label)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains(
            "no container has the label(s) com.docker.compose.service=no-such-compose-service, \
             com.docker.compose.project=no-such-project"
        ),
        "{err:#}"
    );
    assert_eq!(shape_of(&docker, &s.names[0]).await, before);
}

#[tokio::test]
async fn a_service_that_never_becomes_ready_names_itself_and_restore_undoes_everything() {
    let Some(docker) = docker_or_skip("a_service_that_never_becomes_ready").await else {
        return;
    };
    let s = stack(&docker, "tb-never").await;
    let before = shape_of(&docker, &s.names[1]).await;
    let mut target = target(&docker, &s).await;
    // auth exits at start in this mode, printing a line first.
    let mode = ModeEnv {
        mode: "broken".into(),
        services: BTreeMap::from([(
            "auth".to_string(),
            BTreeMap::from([("TB_HELPER_EXIT".to_string(), "3".to_string())]),
        )]),
        runs: BTreeMap::new(),
    };
    let err = target
        .apply(&mode, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_not_ready(&err, "auth", "stopped", "failing on purpose");
    target.restore().await.unwrap();
    assert_eq!(shape_of(&docker, &s.names[1]).await, before);
    assert_no_mode_containers(&s.names);
}

#[test]
fn an_unreachable_daemon_is_a_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(["stats", "--container", "anything", "--duration", "1s"])
        .env("DOCKER_HOST", "unix:///nonexistent/tracebench-test.sock")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "the Docker daemon is unreachable at unix:///nonexistent/tracebench-test.sock"
        ),
        "{stderr}"
    );
}

/// Run by `an_interrupted_run_still_restores` as a child process: applies mode `on` to the
/// container named by TB_GUARDED_CONTAINER inside `Target::guarded`, says so, and waits.
#[test]
#[ignore = "helper entry point, run by the other tests"]
fn helper_guarded_run() {
    let Ok(name) = std::env::var("TB_GUARDED_CONTAINER") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(async {
        let docker = tracebench::control::docker::connect().await?;
        let spec = ContainerSpec {
            service: "svc".into(),
            selector: Selector::Name(name),
            env: BTreeMap::new(),
            readiness: Readiness::Started,
        };
        let mut target = Target::Docker(DockerTarget::new(docker, vec![spec]).await?);
        // As `tracebench run` does: the signal cancels the token, the body ends at its next
        // step (here, the wait), and the target is restored.
        let shutdown = Shutdown::watch();
        let outcome = target
            .guarded(&shutdown, async |t, cancel| {
                t.apply(&mode_env("on", ["svc"]), cancel).await?;
                println!("APPLIED");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(120)) => {}
                    () = cancel.cancelled() => {}
                }
                Ok(())
            })
            .await;
        shutdown.stop();
        outcome
    });
    println!("GUARDED RESULT: {result:?}");
    std::process::exit(if result.is_err() { 4 } else { 0 });
}

#[tokio::test]
async fn an_interrupted_run_still_restores() {
    let Some(docker) = docker_or_skip("an_interrupted_run_still_restores").await else {
        return;
    };
    let s = stack(&docker, "tb-sigint").await;
    let before = shape_of(&docker, &s.names[0]).await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "docker::helper_guarded_run",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("TB_GUARDED_CONTAINER", &s.names[0])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (applied_tx, applied_rx) = std::sync::mpsc::channel();
    // Keeps reading to the end, so the child never writes into a closed pipe.
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line == "APPLIED" {
                let _ = applied_tx.send(());
            }
            seen.push(line);
        }
        seen
    });
    applied_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the child applied its mode");
    let during = inspect(&docker, &s.names[0]).await;
    assert_ne!(
        during.id,
        Some(before.id.clone()),
        "the mode container runs"
    );
    // SAFETY: kill with a PID of our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines = reader.join().unwrap();
    assert_eq!(
        status.code(),
        Some(4),
        "interrupted means the run broke: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("interrupted by SIGINT")),
        "{lines:?}"
    );
    assert_eq!(shape_of(&docker, &s.names[0]).await, before);
    assert_no_mode_containers(&s.names);
}

#[tokio::test]
async fn a_run_that_died_before_restoring_is_recovered_by_the_next() {
    let Some(docker) = docker_or_skip("a_run_that_died_before_restoring").await else {
        return;
    };
    let s = stack(&docker, "tb-crash").await;
    let before = shape_of(&docker, &s.names[0]).await;
    let mut first = target(&docker, &s).await;
    first
        .apply(&mode_env("on", ["gw", "auth"]), &CancellationToken::new())
        .await
        .unwrap();
    // The process "dies" here: no restore.
    drop(first);
    let mut next = target(&docker, &s).await;
    next.restore().await.unwrap();
    assert_eq!(shape_of(&docker, &s.names[0]).await, before);
    assert_no_mode_containers(&s.names);
}

#[tokio::test]
async fn a_container_named_by_its_id_keeps_its_name() {
    let Some(docker) = docker_or_skip("a_container_named_by_its_id").await else {
        return;
    };
    let s = stack(&docker, "tb-byid").await;
    let before = shape_of(&docker, &s.names[0]).await;
    let spec = ContainerSpec {
        service: "gw".into(),
        selector: Selector::Name(before.id[..12].to_string()),
        env: BTreeMap::new(),
        readiness: Readiness::Http(format!("http://127.0.0.1:{}/health", s.ports[0])),
    };
    let mut target = Target::Docker(DockerTarget::new(docker.clone(), vec![spec]).await.unwrap());
    target
        .apply(&mode_env("on", ["gw"]), &CancellationToken::new())
        .await
        .unwrap();
    target.restore().await.unwrap();
    assert_eq!(shape_of(&docker, &s.names[0]).await, before);
    assert_no_mode_containers(&s.names);
}

#[tokio::test]
async fn cancelled_at_any_moment_of_a_switch_restore_brings_back_the_originals() {
    let Some(docker) = docker_or_skip("cancelled_at_any_moment").await else {
        return;
    };
    let s = stack(&docker, "tb-cancel").await;
    let before = shapes(&docker, &s).await;
    // Ctrl-C lands at a different moment of the first switch each time: before it, during the
    // stops, renames and creates, during the readiness waits, after it.
    for after_ms in [0, 30, 100, 250, 500, 1000, 2000, 4000] {
        let mut target = target(&docker, &s).await;
        let (cancel, pull) = cancel_after(after_ms);
        target
            .apply(&mode_env("on", ["gw", "auth"]), &cancel)
            .await
            .unwrap_or_else(|e| panic!("apply cancelled after {after_ms} ms: {e:#}"));
        pull.await.unwrap();
        target.restore().await.unwrap();
        assert_as_before(
            &docker,
            &s,
            &before,
            &format!("after a cancel at {after_ms} ms"),
        )
        .await;
    }
}

#[tokio::test]
async fn an_original_left_aside_with_no_mode_container_is_found_by_its_label_and_restored() {
    let Some(docker) = docker_or_skip("an_original_left_aside").await else {
        return;
    };
    let s = stack(&docker, "tb-aside").await;
    let before = shape_of(&docker, &s.names[1]).await;
    // What a run killed between the rename and the create leaves: the compose service's only
    // container is the stopped original under its aside name.
    let aside = format!("{}-tracebench-original", s.names[1]);
    stop(&docker, &s.names[1]).await;
    docker
        .rename_container(
            &s.names[1],
            bollard::query_parameters::RenameContainerOptionsBuilder::new()
                .name(&aside)
                .build(),
        )
        .await
        .unwrap();
    let mut target = target(&docker, &s).await;
    target.restore().await.unwrap();
    assert_eq!(shape_of(&docker, &s.names[1]).await, before);
    assert_no_mode_containers(&s.names);
}

#[tokio::test]
async fn a_dead_runs_journal_puts_every_container_back_and_a_stopped_one_stays_stopped() {
    let Some(docker) = docker_or_skip("a_dead_runs_journal").await else {
        return;
    };
    let s = stack(&docker, "tb-journal").await;
    // The auth container was stopped before the run: after it, it must still be.
    stop(&docker, &s.names[1]).await;
    let before = shapes(&docker, &s).await;
    assert!(before[0].running && !before[1].running);
    // The run "dies" at a different moment of its second switch each time: its target is
    // dropped without restore, and only its journal is left to put things back.
    for after_ms in [0, 100, 400, 3000] {
        let dir = tempfile::tempdir().unwrap();
        let Target::Docker(t) = target(&docker, &s).await else {
            unreachable!()
        };
        let journal = Journal::create(dir.path(), "127.0.0.1:1", None).unwrap();
        let mut dead = Target::Docker(t.with_journal(journal).unwrap());
        dead.apply(&mode_env("on", ["gw", "auth"]), &CancellationToken::new())
            .await
            .unwrap();
        let (cancel, pull) = cancel_after(after_ms);
        dead.apply(&mode_env("sampled", ["gw", "auth"]), &cancel)
            .await
            .unwrap();
        pull.await.unwrap();
        drop(dead);

        let path = dir.path().join(journal::FILE_NAME);
        let actions = journal::recover(&path).await.unwrap();
        assert!(
            actions
                .iter()
                .any(|a| a.starts_with("removed tracebench's container")),
            "{actions:?}"
        );
        let when = format!("after a death at {after_ms} ms into the second switch");
        assert_as_before(&docker, &s, &before, &when).await;
        let entries = journal::read(&path).unwrap();
        assert_eq!(entries.last(), Some(&Entry::Restored));
        assert!(
            journal::recover(&path).await.unwrap().is_empty(),
            "a restored journal is not followed twice"
        );
    }
}
