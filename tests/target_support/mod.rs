//! Shared by the target, resources and stats tests: a small HTTP service to run as a process or a
//! container (the test binary itself, re-executed), images built from it on the real Docker
//! Engine, and a loud skip when no daemon is reachable.
//!
//! The service is the `#[ignore]`d test `helper_http_server` that each test file declares; it does
//! nothing unless `TB_HELPER_LISTEN` is set. It answers `GET /health` and `GET /env/NAME` (the
//! value of variable NAME, so a test sees which mode the service started in), and on request burns
//! CPU (`TB_HELPER_BURN_PCT`, % of one core), holds memory (`TB_HELPER_ALLOC_MB`) or fails at start
//! (`TB_HELPER_EXIT`, after printing a line).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;

/// The body of the `helper_http_server` test: serves forever when asked to, else returns.
pub fn helper_main() {
    let Ok(listen) = std::env::var("TB_HELPER_LISTEN") else {
        return;
    };
    // As PID 1 in a container, SIGTERM has no default action: exit on it like a real service.
    extern "C" fn exit_now(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) }
    }
    if std::process::id() == 1 {
        // SAFETY: installs a handler that only calls an async-signal-safe function.
        unsafe { libc::signal(libc::SIGTERM, exit_now as *const () as libc::sighandler_t) };
    }
    if let Ok(code) = std::env::var("TB_HELPER_EXIT") {
        println!("helper: failing on purpose with code {code}");
        std::process::exit(code.parse().unwrap_or(3));
    }
    if let Ok(mb) = std::env::var("TB_HELPER_ALLOC_MB") {
        let mut block = vec![0u8; mb.parse::<usize>().expect("TB_HELPER_ALLOC_MB") << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        std::mem::forget(block);
    }
    if let Ok(pct) = std::env::var("TB_HELPER_BURN_PCT") {
        let busy = Duration::from_millis(pct.parse::<u64>().expect("TB_HELPER_BURN_PCT"));
        std::thread::spawn(move || {
            loop {
                let start = Instant::now();
                while start.elapsed() < busy {
                    std::hint::black_box(start.elapsed());
                }
                std::thread::sleep(Duration::from_millis(100).saturating_sub(busy));
            }
        });
    }
    let listener = TcpListener::bind(&listen).expect("helper: bind");
    println!("helper: listening on {listen}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || answer(stream));
    }
}

fn answer(mut stream: TcpStream) {
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path.strip_prefix("/env/") {
        Some(name) => match std::env::var(name) {
            Ok(value) => ("200 OK", value),
            Err(_) => ("404 Not Found", String::new()),
        },
        None if path == "/health" => ("200 OK", "ok".to_string()),
        None => ("404 Not Found", String::new()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The helper as a local command (program, args) plus the env var telling it where to listen.
pub fn helper_command(listen: &str) -> (PathBuf, Vec<String>, Vec<(String, String)>) {
    (
        std::env::current_exe().expect("current_exe"),
        ["helper_http_server", "--exact", "--ignored", "--nocapture"]
            .map(String::from)
            .to_vec(),
        vec![("TB_HELPER_LISTEN".into(), listen.into())],
    )
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `GET http://127.0.0.1:{port}{path}`: (status, body), or None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stream, &mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Some((status, body))
}

/// A Docker connection, or `None` after a loud message when no daemon is reachable; with
/// TRACEBENCH_REQUIRE_DOCKER=1 that is a failure instead.
pub async fn docker_or_skip(test: &str) -> Option<Docker> {
    match tracebench::control::docker::connect().await {
        Ok(docker) => Some(docker),
        Err(err) if std::env::var("TRACEBENCH_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("{test}: Docker is required (TRACEBENCH_REQUIRE_DOCKER=1) but {err:#}")
        }
        Err(err) => {
            eprintln!(
                "\n################ SKIPPED {test}: no Docker daemon ({err:#}). \
                 Set TRACEBENCH_REQUIRE_DOCKER=1 to fail instead. ################\n"
            );
            None
        }
    }
}

/// An image running this test binary's helper, built by scripts/offline-images.sh (rebuilt only
/// when the binary changed).
pub fn helper_image(tag: &str) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/offline-images.sh");
    let status = Command::new(script)
        .args([
            "--binary".as_ref(),
            exe.as_os_str(),
            "--tag".as_ref(),
            tag.as_ref(),
        ])
        .args(["helper_http_server", "--exact", "--ignored", "--nocapture"])
        .status()
        .expect("running offline-images.sh");
    assert!(status.success(), "offline-images.sh failed for {tag}");
    tag.to_string()
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
            binds: Some(vec![format!("{}:/data:ro", env!("CARGO_MANIFEST_DIR"))]),
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

/// Waits (bounded) until `GET /health` on the port answers 200.
pub fn wait_http(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if http_get(port, "/health").is_some_and(|(status, _)| status == 200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
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
    helper_image(image);
    let name = unique(prefix);
    let network = format!("{name}-net");
    let cleanup = Cleanup {
        containers: vec![name.clone()],
        networks: vec![network.clone()],
    };
    create_network(docker, &network).await;
    let port = free_port();
    create_service(docker, image, &name, &network, port, env, &[]).await;
    assert!(
        wait_http(port, Duration::from_secs(30)),
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

/// `POST /api/auth/register` to the demo gateway with a unique user: the status, or None when
/// nothing answers (bounded: 10 s).
pub fn post_register(port: u16, name: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let body =
        format!(r#"{{"username":"{name}","email":"{name}@example.test","password":"tracebench"}}"#);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "POST /api/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split_whitespace().nth(1)?.parse().ok()
}
