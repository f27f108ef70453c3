//! Short scenarios on the demo stack for the `tracebench run` tests: the demo binaries as local
//! processes on free loopback ports, exporting to the run's built-in sink, itself on free ports.
//! Cells are short (1 s warm-up, 3 s measured) and rates low, for a 2-core CI machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::demo::demo_bin;
use crate::net::free_port;

/// What varies between the tests' scenarios.
pub struct Spec<'a> {
    pub name: &'a str,
    /// `[[modes.mode]]` tables, TOML.
    pub modes: &'a str,
    pub rates: &'a str,
    pub rounds: u32,
    /// Extra `env` entries of the gateway, TOML inline-table items (`K = "V", ...`), or "".
    pub gateway_env: &'a str,
    /// The same for the auth service.
    pub auth_env: &'a str,
    /// A shell script run before the auth binary takes its place (`exec`), or "" to start the
    /// binary directly: what the script starts in the background stays under the service.
    pub auth_launcher: &'a str,
    pub duration: &'a str,
    /// The request timeout.
    pub timeout: &'a str,
    pub ingestion_wait: &'a str,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            name: "e2e",
            modes: MODES,
            rates: "[60]",
            rounds: 1,
            gateway_env: "",
            auth_env: "",
            auth_launcher: "",
            duration: "3s",
            timeout: "5s",
            ingestion_wait: "2s",
        }
    }
}

/// The default three modes: off, on (always_on), sampled at 0.1.
pub const MODES: &str = r#"
[[modes.mode]]
name = "off"
env = { OTEL_SDK_DISABLED = "true", OTEL_TRACES_SAMPLER = "always_off" }
[[modes.mode]]
name = "on"
env = { OTEL_TRACES_SAMPLER = "always_on" }
[[modes.mode]]
name = "sampled"
env = { OTEL_TRACES_SAMPLER = "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG = "0.1" }
"#;

/// The env of a mode with tracing off, as TOML inline-table items.
pub const OFF: &str = r#"OTEL_SDK_DISABLED = "true""#;

/// `[[modes.mode]]` tables for [`Spec::modes`]: each mode's name and env (inline-table items).
pub fn modes(modes: &[(&str, &str)]) -> String {
    modes
        .iter()
        .map(|(name, env)| format!("[[modes.mode]]\nname = \"{name}\"\nenv = {{ {env} }}\n"))
        .collect()
}

/// A scenario file in a temporary directory, with the ports it uses.
pub struct TestScenario {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    /// Every port a service or the sink listens on.
    pub ports: Vec<u16>,
}

impl TestScenario {
    pub fn write(spec: &Spec) -> TestScenario {
        let (auth, gateway) = (free_port(), free_port());
        let (grpc, http, api) = (free_port(), free_port(), free_port());
        let auth_bin = demo_bin("demo-auth");
        let gateway_bin = demo_bin("demo-gateway");
        let otel = format!(
            r#"OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:{grpc}", OTEL_BSP_SCHEDULE_DELAY = "200", OTEL_BSP_MAX_QUEUE_SIZE = "65536""#
        );
        let extra = |env: &str| {
            if env.is_empty() {
                String::new()
            } else {
                format!(", {env}")
            }
        };
        let (gateway_extra, auth_extra) = (extra(spec.gateway_env), extra(spec.auth_env));
        let auth_command = if spec.auth_launcher.is_empty() {
            format!(r#""{}""#, auth_bin.display())
        } else {
            let script = format!("{}\nexec \"$0\" \"$@\"", spec.auth_launcher);
            format!(
                r#""sh", "-c", {}, "{}""#,
                // A JSON string is a TOML basic string (the same escapes).
                serde_json::to_string(&script).unwrap(),
                auth_bin.display()
            )
        };
        let text = format!(
            r#"name = "{name}"
[target]
kind = "process"
ready_timeout = "30s"
[[target.services]]
name = "auth"
command = [{auth_command}, "--listen", "127.0.0.1:{auth}"]
tcp = "127.0.0.1:{auth}"
env = {{ OTEL_SERVICE_NAME = "user-auth-service", {otel}{auth_extra} }}
[[target.services]]
name = "gateway"
command = ["{gateway_bin}", "--listen", "127.0.0.1:{gateway}", "--auth", "http://127.0.0.1:{auth}"]
health = "http://127.0.0.1:{gateway}/health"
env = {{ OTEL_SERVICE_NAME = "api-gateway", {otel}{gateway_extra} }}
[request]
url = "http://127.0.0.1:{gateway}/api/auth/register"
body = '{{"username":"t{{seq}}-{{run}}","email":"{{uuid}}@example.test","password":"tracebench"}}'
headers = {{ "content-type" = "application/json" }}
connections = 4
timeout = "{timeout}"
expect = [200, 201]
[modes]
baseline = "off"
{modes}
[load]
rates = {rates}
warmup = "1s"
duration = "{duration}"
rounds = {rounds}
settle = "500ms"
ingestion_wait = "{ingestion_wait}"
[traces]
store = "sink"
probes = 3
services = ["api-gateway", "user-auth-service"]
root_service = "api-gateway"
[traces.sink]
otlp_grpc = "127.0.0.1:{grpc}"
otlp_http = "127.0.0.1:{http}"
api = "127.0.0.1:{api}"
"#,
            name = spec.name,
            gateway_bin = gateway_bin.display(),
            modes = spec.modes,
            rates = spec.rates,
            rounds = spec.rounds,
            duration = spec.duration,
            timeout = spec.timeout,
            ingestion_wait = spec.ingestion_wait,
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{}.toml", spec.name));
        std::fs::write(&path, text).unwrap();
        TestScenario {
            dir,
            path,
            ports: vec![auth, gateway, grpc, http, api],
        }
    }

    /// A run directory inside the scenario's temporary directory.
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// True when nothing accepts connections on any of the scenario's ports.
    pub fn all_ports_closed(&self) -> bool {
        self.ports.iter().all(|&port| {
            std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                std::time::Duration::from_millis(200),
            )
            .is_err()
        })
    }
}

/// `tracebench ARGS...`, output captured.
pub fn tracebench(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(crate::demo::workspace_bin("tracebench", "tracebench"))
        .args(args)
        .output()
        .unwrap()
}

/// `tracebench ARGS... --json FILE`, which must succeed: its output, and what it wrote to FILE.
pub fn tracebench_json<T: serde::de::DeserializeOwned>(args: &[&str]) -> (Output, T) {
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(crate::demo::workspace_bin("tracebench", "tracebench"))
        .args(args)
        .arg("--json")
        .arg(json.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tracebench {args:?}: {}",
        describe(&out)
    );
    let written = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    (out, written)
}

/// `tracebench run --quiet SCENARIO --out OUT`, its output piped, to adjust or spawn. Its state
/// (run locks, journal pointers) is kept in the scenario's directory, not the user's.
pub fn run_command(scenario: &Path, out: &Path) -> Command {
    let mut command = Command::new(crate::demo::workspace_bin("tracebench", "tracebench"));
    command
        .args(["run", "--quiet"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .env("TRACEBENCH_STATE_DIR", state_dir(scenario))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// Where the runs of `scenario` keep their state: beside it.
pub fn state_dir(scenario: &Path) -> PathBuf {
    scenario.parent().unwrap_or(Path::new(".")).join("state")
}

/// Runs `scenario` into `out` with the fault-injection hook set to `fault`
/// (`<kill|int>@<point>`) and checks how it ended: killed by SIGKILL and then put back by
/// `tracebench restore OUT` (one run directory) or `tracebench restore` (every dead run on the
/// host) as `by_dir` says; or interrupted by SIGINT and restored by itself, exit 4. `at` names
/// the point in failure messages.
pub fn run_with_fault(scenario: &Path, out: &Path, fault: &str, by_dir: bool, at: &str) {
    use std::os::unix::process::ExitStatusExt;
    let output = run_command(scenario, out)
        .env(tracebench::control::journal::FAULT_VAR, fault)
        .output()
        .unwrap();
    if fault.starts_with("kill@") {
        assert_eq!(
            output.status.signal(),
            Some(9),
            "{at}: {}",
            describe(&output)
        );
        let restored = Command::new(crate::demo::workspace_bin("tracebench", "tracebench"))
            .arg("restore")
            .args(by_dir.then_some(out))
            .env("TRACEBENCH_STATE_DIR", state_dir(scenario))
            .output()
            .unwrap();
        assert!(restored.status.success(), "{at}: {}", describe(&restored));
    } else {
        assert_eq!(output.status.code(), Some(4), "{at}: {}", describe(&output));
    }
}

/// `tracebench run --quiet SCENARIO --out OUT`, run to its end.
pub fn run(scenario: &Path, out: &Path) -> Output {
    run_command(scenario, out).output().unwrap()
}

/// Describes an output for an assertion message.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
