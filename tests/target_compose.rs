//! The docker path end to end, as CI runs it on a machine that cannot pull: the demo images built
//! by scripts/offline-images.sh, the two services started by docker-compose with the offline
//! override (own project name, free 127.0.0.1 ports), and the docker target switching them
//! through off, on and sampled by their compose labels, then restoring them.

mod target_support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use tracebench::target::docker::{ContainerSpec, DockerTarget, Selector};
use tracebench::target::{ModeEnv, Readiness, Target};

use target_support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn compose(project: &str, ports: (u16, u16), args: &[&str]) -> std::process::Output {
    Command::new("docker-compose")
        .current_dir(ROOT)
        .args([
            "-p",
            project,
            "-f",
            "docker-compose.yml",
            "-f",
            "docker-compose.offline.yml",
        ])
        .args(args)
        .env("GATEWAY_PORT", ports.0.to_string())
        .env("AUTH_PORT", ports.1.to_string())
        .output()
        .expect("running docker-compose")
}

/// Takes the compose project down (containers, network, volume) whatever the test's outcome.
struct Down {
    project: String,
    ports: (u16, u16),
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = compose(&self.project, self.ports, &["down", "-v"]);
    }
}

fn logs(container: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn id_and_env(container: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.Id}} {{.Config.Env}} {{.HostConfig.PortBindings}}",
            container,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn the_compose_stack_switches_modes_by_label_and_is_restored() {
    let Some(docker) =
        docker_or_skip("the_compose_stack_switches_modes_by_label_and_is_restored").await
    else {
        return;
    };
    let script = format!("{ROOT}/scripts/offline-images.sh");
    let built = Command::new(&script).arg("demo").status().unwrap();
    assert!(built.success(), "offline-images.sh demo failed");
    let project = unique("tbcompose").replace('-', "");
    let ports = (free_port(), free_port());
    let _down = Down {
        project: project.clone(),
        ports,
    };
    let up = compose(
        &project,
        ports,
        &[
            "up",
            "-d",
            "--no-build",
            "--no-deps",
            "user-auth-service",
            "api-gateway",
        ],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        wait_http(ports.0, Duration::from_secs(60)),
        "the gateway never answered"
    );
    let gateway = format!("{project}_api-gateway_1");
    let auth = format!("{project}_user-auth-service_1");
    let before = (id_and_env(&gateway), id_and_env(&auth));

    let spec = |service: &str, readiness: Readiness| ContainerSpec {
        service: service.into(),
        selector: Selector::ComposeService {
            service: service.into(),
            project: Some(project.clone()),
        },
        env: BTreeMap::new(),
        readiness,
    };
    let specs = vec![
        spec(
            "user-auth-service",
            Readiness::Tcp(([127, 0, 0, 1], ports.1).into()),
        ),
        spec(
            "api-gateway",
            Readiness::Http(format!("http://127.0.0.1:{}/health", ports.0)),
        ),
    ];
    let mut target = Target::Docker(DockerTarget::new(docker, specs).await.unwrap());
    let expected_log = [
        ("off", "tracing disabled (OTEL_SDK_DISABLED=true)"),
        ("on", "sampler always_on"),
        ("sampled", "sampler parentbased_traceidratio 0.1"),
    ];
    let outcome = target
        .guarded(async |t| {
            for (mode, log_line) in expected_log {
                let env = standard_mode(mode, 0.1).unwrap();
                t.apply(&ModeEnv::uniform(
                    mode,
                    ["user-auth-service", "api-gateway"],
                    &env,
                ))
                .await?;
                assert_eq!(
                    post_register(ports.0, &format!("c-{mode}")),
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
    assert_eq!((id_and_env(&gateway), id_and_env(&auth)), before);
    assert!(
        wait_http(ports.0, Duration::from_secs(60)),
        "restored gateway answers"
    );
}
