//! The real demo stack (demo-auth + demo-gateway binaries) as child processes on free loopback
//! ports, and the workspace binaries tests run. Used by tracebench's integration tests and by the
//! demo crate's, which pass their own `CARGO_BIN_EXE_*` paths.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the stack may take to answer `/health` with 200. Generous: the machine may be busy
/// compiling, and a first start may also build the binaries.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a service may take to exit after SIGTERM (it flushes its spans first).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Path of a demo binary (`demo-gateway`, `demo-auth`) in this test's target profile directory.
pub fn demo_bin(name: &str) -> PathBuf {
    workspace_bin("demo", name)
}

/// Path of binary `name` of workspace package `package` in this test's target profile directory.
///
/// Tests run from `target/<profile>/deps/`, and cargo puts binaries in `target/<profile>/`. Cargo
/// only builds binaries of the package under test (and sets `CARGO_BIN_EXE_*` only for those), and
/// depending on another package's binaries ("artifact dependencies") is still unstable, so when a
/// binary is missing (e.g. after `cargo test -p tracebench`) it is built here with
/// `cargo build -p PACKAGE --bins` in the same profile. `cargo test --workspace` builds them anyway.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    bin_in(&profile_dir(), package, name)
}

/// Path of binary `name` of workspace package `package` built with `--release`, built here if
/// missing: for tests whose load a debug build cannot carry (thousands of requests a second).
pub fn release_bin(package: &str, name: &str) -> PathBuf {
    let target = profile_dir().parent().expect("target/<profile>").to_owned();
    bin_in(&target.join("release"), package, name)
}

/// `target/<profile>` of this test.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps")
        .to_owned()
}

fn bin_in(profile_dir: &Path, package: &str, name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let path = profile_dir.join(name);
    let _one_build_at_a_time = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !path.exists() {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.args(["build", "-p", package, "--bins"]);
        if profile_dir.file_name().is_some_and(|dir| dir == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("running cargo build");
        assert!(
            status.success(),
            "cargo build -p {package} --bins failed: {status}"
        );
        assert!(
            path.exists(),
            "{} missing after building {package}",
            path.display()
        );
    }
    path
}

/// The demo stack: demo-auth and demo-gateway as child processes on free loopback ports.
/// Both are killed on drop; [`DemoStack::stop`] stops them gracefully instead (spans flushed).
pub struct DemoStack {
    auth_bin: PathBuf,
    env: Vec<(String, String)>,
    auth: Option<Child>,
    gateway: Option<Child>,
    auth_addr: SocketAddr,
    gateway_addr: SocketAddr,
}

impl DemoStack {
    /// Starts the stack from the binaries next to this test, with `env` added to each service's
    /// environment. See [`DemoStack::start_with`].
    pub fn start(env: &[(&str, &str)]) -> DemoStack {
        DemoStack::start_with(&demo_bin("demo-auth"), &demo_bin("demo-gateway"), env)
    }

    /// Starts the stack from the given binaries and waits until the gateway's `/health` is 200.
    ///
    /// Inherited `OTEL_*` variables are removed so the caller's environment cannot change a test;
    /// unless `env` names an OTLP endpoint, tracing is disabled (`OTEL_SDK_DISABLED=true`) so no
    /// test sends spans to whatever listens on the default port. A port taken between choosing
    /// and binding it makes a service exit: the start is then retried on new ports.
    pub fn start_with(auth_bin: &Path, gateway_bin: &Path, env: &[(&str, &str)]) -> DemoStack {
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match DemoStack::try_start(auth_bin, gateway_bin, env) {
                Ok(stack) => return stack,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("demo stack did not start: {last_failure}");
    }

    fn try_start(
        auth_bin: &Path,
        gateway_bin: &Path,
        env: &[(&str, &str)],
    ) -> Result<DemoStack, String> {
        let mut stack = DemoStack {
            auth_bin: auth_bin.to_owned(),
            env: env
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            auth: None,
            gateway: None,
            auth_addr: SocketAddr::from(([127, 0, 0, 1], crate::net::free_port())),
            gateway_addr: SocketAddr::from(([127, 0, 0, 1], crate::net::free_port())),
        };
        stack.spawn_auth()?;
        let gateway = service_command(gateway_bin, &stack.env)
            .args(["--listen", &stack.gateway_addr.to_string()])
            .args(["--auth", &format!("http://{}", stack.auth_addr)])
            .spawn()
            .map_err(|err| format!("spawning {}: {err}", gateway_bin.display()))?;
        stack.gateway = Some(gateway);
        stack.wait_ready()?;
        Ok(stack)
    }

    fn spawn_auth(&mut self) -> Result<(), String> {
        let auth = service_command(&self.auth_bin, &self.env)
            .args(["--listen", &self.auth_addr.to_string()])
            .spawn()
            .map_err(|err| format!("spawning {}: {err}", self.auth_bin.display()))?;
        self.auth = Some(auth);
        Ok(())
    }

    /// Starts demo-auth again (after [`DemoStack::stop_auth`]) on the same address and waits until
    /// the gateway's `/health` is 200 again.
    pub fn restart_auth(&mut self) {
        assert!(self.auth.is_none(), "demo-auth is still running");
        self.spawn_auth().expect("restarting demo-auth");
        self.wait_ready()
            .expect("stack ready after restarting demo-auth");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            for (name, child) in [
                ("demo-auth", &mut self.auth),
                ("demo-gateway", &mut self.gateway),
            ] {
                if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
                    return Err(format!("{name} exited early: {status}"));
                }
            }
            if matches!(self.get("/health"), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("/health not 200 within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT` of the gateway.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway_addr)
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway_addr
    }

    /// demo-auth's gRPC address.
    pub fn auth_addr(&self) -> SocketAddr {
        self.auth_addr
    }

    /// Process ids (auth, gateway) of the running services, e.g. to read /proc.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.auth.as_ref().map(Child::id),
            self.gateway.as_ref().map(Child::id),
        )
    }

    /// `GET path` on the gateway: (status, body).
    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        crate::net::request(self.gateway_addr, "GET", path, &[], "")
    }

    /// `POST path` on the gateway with a JSON body and extra headers: (status, body).
    pub fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<(u16, String)> {
        crate::net::request(self.gateway_addr, "POST", path, headers, body)
    }

    /// Stops demo-auth gracefully (SIGTERM) and waits for it to exit; the gateway keeps running.
    pub fn stop_auth(&mut self) {
        if let Some(child) = self.auth.take() {
            terminate("demo-auth", child);
        }
    }

    /// Stops both services gracefully, gateway first (as a deployment drains its front), so every
    /// span they recorded has been exported when this returns.
    pub fn stop(mut self) {
        if let Some(child) = self.gateway.take() {
            terminate("demo-gateway", child);
        }
        self.stop_auth();
    }
}

impl Drop for DemoStack {
    fn drop(&mut self) {
        for child in [self.gateway.take(), self.auth.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn service_command(bin: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    if !env
        .iter()
        .any(|(name, _)| name.starts_with("OTEL_EXPORTER_OTLP"))
    {
        command.env("OTEL_SDK_DISABLED", "true");
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command
}

/// Sends SIGTERM and waits (bounded) for a graceful exit, which must succeed.
fn terminate(name: &str, mut child: Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) on our own child, which has not been reaped yet (we hold its `Child`).
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM to {name}");
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                assert!(
                    status.success(),
                    "{name} exited with {status} after SIGTERM"
                );
                return;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not exit within {STOP_TIMEOUT:?} of SIGTERM");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stack's binaries are found (or built), it starts on free ports, and a registration
    /// goes through it with the toolkit's HTTP client.
    #[test]
    fn demo_stack_starts_and_registers_a_user() {
        let stack = DemoStack::start(&[]);
        let (status, body) = stack
            .post(
                "/api/auth/register",
                &[],
                r#"{"username":"support","email":"support@example.com","password":"password1"}"#,
            )
            .expect("register request");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("user_id"), "{body}");
        assert_eq!(
            crate::net::http_get(stack.gateway_addr().port(), "/health").map(|(s, _)| s),
            Some(200)
        );
        stack.stop();
    }
}
