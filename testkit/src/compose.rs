//! The offline compose stack for the docker tests: the images built by scripts/offline-images.sh
//! (demo services and tracebench's sink standing in for Tempo), started by docker-compose with the
//! offline override under its own project name, every port published on a free 127.0.0.1 port,
//! and taken down (containers, network, volume) when the handle is dropped, whatever the outcome.
//!
//! Image builds are cached by the script (an image is rebuilt only when its binary changed) and
//! serialised by the script's own file lock, so test binaries running in parallel never build
//! twice at once.

use std::process::{Command, Output};

/// Builds (or finds up to date) the three offline images: a release build of demo and tracebench
/// the first time, then only a cargo no-op and a hash comparison.
pub fn build_offline_images() {
    let status = Command::new(crate::repo().join("scripts/offline-images.sh"))
        .status()
        .expect("running scripts/offline-images.sh");
    assert!(status.success(), "scripts/offline-images.sh failed");
}

/// Published ports of one stack, all on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub gateway: u16,
    pub auth: u16,
    /// The sink's Tempo-style query API (Tempo's 3200).
    pub api: u16,
    pub otlp_grpc: u16,
    pub otlp_http: u16,
}

/// A running offline compose project; `docker-compose down -v` on drop.
pub struct ComposeStack {
    pub project: String,
    pub ports: Ports,
}

impl ComposeStack {
    /// `docker-compose up -d` of the offline stack under `project` (letters and digits only, as
    /// compose v1 strips the rest) on free loopback ports. Panics, after taking it down, when
    /// compose fails.
    pub fn up(project: &str) -> ComposeStack {
        let free = crate::net::free_port;
        let stack = ComposeStack {
            project: project.to_string(),
            ports: Ports {
                gateway: free(),
                auth: free(),
                api: free(),
                otlp_grpc: free(),
                otlp_http: free(),
            },
        };
        let up = stack.compose(&["up", "-d", "--no-build"]);
        assert!(
            up.status.success(),
            "docker-compose up: {}",
            String::from_utf8_lossy(&up.stderr)
        );
        stack
    }

    /// Runs `docker-compose` on this project with the offline override and its ports.
    pub fn compose(&self, args: &[&str]) -> Output {
        let p = self.ports;
        Command::new("docker-compose")
            .current_dir(crate::repo())
            .args(["-p", &self.project])
            .args([
                "-f",
                "docker-compose.yml",
                "-f",
                "docker-compose.offline.yml",
            ])
            .args(args)
            .env("GATEWAY_PORT", p.gateway.to_string())
            .env("AUTH_PORT", p.auth.to_string())
            .env("TEMPO_PORT", p.api.to_string())
            .env("OTLP_GRPC_PORT", p.otlp_grpc.to_string())
            .env("OTLP_HTTP_PORT", p.otlp_http.to_string())
            .output()
            .expect("running docker-compose")
    }

    /// The container compose v1 names for `service`.
    pub fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }

    /// `http://127.0.0.1:PORT` of the sink's query API.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.api)
    }
}

impl Drop for ComposeStack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "10"]);
    }
}

/// ID, name, running state, environment, port bindings, and networks with their aliases of a
/// container as `docker inspect` shows them: what must be the same before and after the docker
/// target has switched modes and restored.
pub fn identity(container: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.Id}} {{.Name}} running={{.State.Running}} {{.Config.Env}} \
             {{.HostConfig.PortBindings}} \
             {{range $net, $e := .NetworkSettings.Networks}}{{$net}}:{{$e.Aliases}} {{end}}",
            container,
        ])
        .output()
        .expect("running docker inspect");
    assert!(out.status.success(), "docker inspect {container}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A compose project name unique to one test run (compose v1 keeps only letters and digits).
pub fn project_name(prefix: &str) -> String {
    crate::target::unique(prefix).replace('-', "")
}
