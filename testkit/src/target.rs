//! Services for the target, resources and stats tests on the real Docker Engine: containers of
//! the helper image on their own networks, removed whatever the outcome, and the standard modes.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;

/// A Docker connection, or `None` after a loud skip when no daemon is reachable (a failure with
/// `TRACEBENCH_REQUIRE_DOCKER=1`).
pub async fn docker_or_skip(test: &str) -> Option<Docker> {
    match tracebench::control::docker::connect().await {
        Ok(docker) => Some(docker),
        Err(err) => {
            crate::skip::missing(
                test,
                "TRACEBENCH_REQUIRE_DOCKER",
                &format!("no Docker daemon ({err:#})"),
            );
            None
        }
    }
}

/// Removes the containers and networks it names when dropped, whatever the test's outcome.
#[derive(Default)]
pub struct Cleanup {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            for name in [c.clone(), format!("{c}-tracebench-original")] {
                let _ = Command::new("docker")
                    .args(["rm", "-f", "-v", &name])
                    .output();
            }
        }
        for n in &self.networks {
            let _ = Command::new("docker").args(["network", "rm", n]).output();
        }
    }
}

/// A unique name prefix for one test's containers.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

pub async fn create_network(docker: &Docker, name: &str) {
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            ..Default::default()
        })
        .await
        .expect("create network");
}

/// A container like a compose service: the helper image, env, labels, a published port on
/// 127.0.0.1, a network alias, a read-only bind mount, a healthcheck and a restart policy. Started.
pub async fn create_service(
    docker: &Docker,
    image: &str,
    name: &str,
    network: &str,
    host_port: u16,
    env: &[(&str, &str)],
    labels: &[(&str, &str)],
) {
    let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push("TB_HELPER_LISTEN=0.0.0.0:8080".into());
    let port_bindings = HashMap::from([(
        "8080/tcp".to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(host_port.to_string()),
        }]),
    )]);
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(env),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        exposed_ports: Some(vec!["8080/tcp".into()]),
        healthcheck: Some(HealthConfig {
            test: Some(
                ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
                    .map(String::from)
                    .to_vec(),
            ),
            interval: Some(300_000_000),
            timeout: Some(1_000_000_000),
            retries: Some(20),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            binds: Some(vec![format!("{}:/data:ro", crate::repo().display())]),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            network_mode: Some(network.to_string()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_string(),
                EndpointSettings {
                    aliases: Some(vec![format!("{name}-alias")]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    docker
        .create_container(Some(options), body)
        .await
        .expect("create container");
    docker
        .start_container(name, None)
        .await
        .expect("start container");
}

/// The overrides of design.md's standard modes: `off`, `on`, `sampled` at `ratio`.
pub fn standard_mode(mode: &str, ratio: f64) -> Option<std::collections::BTreeMap<String, String>> {
    let pairs: Vec<(&str, String)> = match mode {
        "off" => vec![
            ("OTEL_SDK_DISABLED", "true".into()),
            ("OTEL_TRACES_SAMPLER", "always_off".into()),
        ],
        "on" => vec![("OTEL_TRACES_SAMPLER", "always_on".into())],
        "sampled" => vec![
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
            ("OTEL_TRACES_SAMPLER_ARG", ratio.to_string()),
        ],
        _ => return None,
    };
    Some(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// One helper container on its own network, answering on a free 127.0.0.1 port: (name, port,
/// the cleanup to keep alive for the test's duration).
pub async fn one_service(
    docker: &Docker,
    image: &str,
    prefix: &str,
    env: &[(&str, &str)],
) -> (String, u16, Cleanup) {
    crate::helper::image(image);
    let name = unique(prefix);
    let network = format!("{name}-net");
    let cleanup = Cleanup {
        containers: vec![name.clone()],
        networks: vec![network.clone()],
    };
    create_network(docker, &network).await;
    let port = crate::net::free_port();
    create_service(docker, image, &name, &network, port, env, &[]).await;
    assert!(
        crate::net::wait_http(port, Duration::from_secs(30)),
        "{name} never answered"
    );
    (name, port, cleanup)
}

/// Asserts `err` is a `NotReady` for `service`, whose reason and last log lines hold the given
/// texts.
pub fn assert_not_ready(err: &anyhow::Error, service: &str, reason: &str, log_line: &str) {
    let not_ready = err
        .downcast_ref::<tracebench::control::NotReady>()
        .unwrap_or_else(|| panic!("not a NotReady error: {err:#}"));
    assert_eq!(not_ready.service, service);
    assert!(not_ready.reason.contains(reason), "{}", not_ready.reason);
    let tail = &not_ready.log_tail;
    assert!(tail.iter().any(|l| l.contains(log_line)), "{tail:?}");
}
