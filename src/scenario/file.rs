//! The scenario file as serde reads it, and its validation into [`Scenario`]. Every struct denies
//! unknown keys; every semantic check reports the dotted key it failed on, which [`Located`] turns
//! into a line. Defaults live here, next to the keys they belong to.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::locate::Located;
use super::{
    Arrivals, Command, ContainerRef, DockerService, ExternalService, Load, ProcessService,
    ReadyCheck, Request, RequestKind, Scenario, ScenarioError, Target, Template, TraceStore,
    Traces,
};
use crate::results::{Budgets, ModeInfo};

/// A semantic mistake: the dotted key and what was expected.
struct Issue {
    key: String,
    message: String,
}

fn issue(key: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue {
        key: key.into(),
        message: message.into(),
    }
}

type Checked<T> = Result<T, Issue>;

pub(super) fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let located = Located::parse(text);
    let file_name = path.display().to_string();
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        ScenarioError {
            file: file_name.clone(),
            line: Some(located.line_of(offset)),
            key: located.path_at(offset),
            message: e.message().trim().to_string(),
        }
    })?;
    raw.validate(path).map_err(|i| ScenarioError {
        file: file_name,
        line: Some(located.line_of_path(&i.key)),
        key: i.key,
        message: i.message,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    target: TargetFile,
    request: RequestFile,
    #[serde(default)]
    modes: ModesFile,
    load: LoadFile,
    #[serde(default)]
    traces: TracesFile,
    #[serde(default)]
    budgets: BudgetsFile,
}

impl ScenarioFile {
    fn validate(self, path: &Path) -> Checked<Scenario> {
        let name = match self.name {
            Some(n) if n.trim().is_empty() => {
                return Err(issue("name", "expected a non-empty name"));
            }
            Some(n) => n,
            None => path.file_stem().map_or_else(
                || "scenario".to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
        };
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let dir = parent.unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let (modes, baseline) = self.modes.validate()?;
        let traces = self.traces.validate()?;
        Ok(Scenario {
            name,
            description: self.description,
            path: path.to_path_buf(),
            target: self.target.validate(&dir)?,
            request: self.request.validate()?,
            modes,
            baseline,
            load: self.load.validate()?,
            traces,
            budgets: self.budgets.validate()?,
        })
    }
}

// ---- [target] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    kind: TargetKind,
    #[serde(default)]
    services: Vec<ServiceFile>,
    #[serde(default = "secs::<60>", deserialize_with = "duration")]
    ready_timeout: Duration,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum TargetKind {
    Process,
    Docker,
    External,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: String,
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<String>,
    build: Option<Vec<String>>,
    health: Option<String>,
    tcp: Option<String>,
    container: Option<String>,
    compose_service: Option<String>,
    compose_project: Option<String>,
    pids: Option<Vec<u32>>,
}

impl TargetFile {
    fn validate(self, dir: &Path) -> Checked<Target> {
        if self.services.is_empty() {
            return Err(issue(
                "target.services",
                "expected at least one [[target.services]] entry",
            ));
        }
        let mut names = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let key = format!("target.services[{i}].name");
            if s.name.trim().is_empty() {
                return Err(issue(key, "expected a non-empty service name"));
            }
            if !names.insert(s.name.as_str()) {
                return Err(issue(key, format!("duplicate service name {:?}", s.name)));
            }
        }
        let ready_timeout = positive("target.ready_timeout", self.ready_timeout)?;
        let kind = self.kind;
        let each = |i: usize, s: ServiceFile| s.check_keys(kind, &format!("target.services[{i}]"));
        let services = self.services.into_iter().enumerate();
        Ok(match kind {
            TargetKind::Process => Target::Process {
                services: services
                    .map(|(i, s)| each(i, s)?.process(&format!("target.services[{i}]"), dir))
                    .collect::<Checked<_>>()?,
                ready_timeout,
            },
            TargetKind::Docker => Target::Docker {
                services: services
                    .map(|(i, s)| each(i, s)?.docker(&format!("target.services[{i}]")))
                    .collect::<Checked<_>>()?,
                ready_timeout,
            },
            TargetKind::External => Target::External {
                services: services
                    .map(|(i, s)| each(i, s)?.external(&format!("target.services[{i}]")))
                    .collect::<Checked<_>>()?,
                ready_timeout,
            },
        })
    }
}

impl ServiceFile {
    /// Rejects keys that belong to another kind of target.
    fn check_keys(self, kind: TargetKind, key: &str) -> Checked<ServiceFile> {
        let (kind_name, allowed): (&str, &[&str]) = match kind {
            TargetKind::Process => (
                "process",
                &["command", "env", "cwd", "build", "health", "tcp"],
            ),
            TargetKind::Docker => (
                "docker",
                &[
                    "container",
                    "compose_service",
                    "compose_project",
                    "env",
                    "health",
                    "tcp",
                ],
            ),
            TargetKind::External => ("external", &["pids", "container", "health", "tcp"]),
        };
        let present = [
            ("command", self.command.is_some()),
            ("env", self.env.is_some()),
            ("cwd", self.cwd.is_some()),
            ("build", self.build.is_some()),
            ("health", self.health.is_some()),
            ("tcp", self.tcp.is_some()),
            ("container", self.container.is_some()),
            ("compose_service", self.compose_service.is_some()),
            ("compose_project", self.compose_project.is_some()),
            ("pids", self.pids.is_some()),
        ];
        if let Some((field, _)) = present.iter().find(|(f, set)| *set && !allowed.contains(f)) {
            return Err(issue(
                format!("{key}.{field}"),
                format!(
                    "not used by a {kind_name} target; expected only name, {}",
                    allowed.join(", ")
                ),
            ));
        }
        if self.health.is_some() && self.tcp.is_some() {
            return Err(issue(
                format!("{key}.tcp"),
                "expected one ready check, `health` or `tcp`, not both",
            ));
        }
        Ok(self)
    }

    fn ready(&self, key: &str) -> Checked<Option<ReadyCheck>> {
        if let Some(url) = &self.health {
            return Ok(Some(ReadyCheck::Http(http_url(
                &format!("{key}.health"),
                url,
            )?)));
        }
        self.tcp
            .as_deref()
            .map(|addr| loopback_addr(&format!("{key}.tcp"), addr).map(ReadyCheck::Tcp))
            .transpose()
    }

    fn process(self, key: &str, dir: &Path) -> Checked<ProcessService> {
        let cwd = self
            .cwd
            .as_deref()
            .map_or(dir.to_path_buf(), |c| dir.join(c));
        let Some(argv) = &self.command else {
            return Err(issue(
                format!("{key}.command"),
                "expected a command: an array of program and arguments",
            ));
        };
        let run = command(&format!("{key}.command"), argv, dir, &cwd)?;
        let build = match &self.build {
            Some(argv) => Some(command(&format!("{key}.build"), argv, dir, &cwd)?),
            None => None,
        };
        let env = env(&format!("{key}.env"), self.env.clone())?;
        Ok(ProcessService {
            ready: self.ready(key)?,
            name: self.name,
            command: run,
            env,
            build,
        })
    }

    fn docker(self, key: &str) -> Checked<DockerService> {
        let container = match (&self.container, &self.compose_service) {
            (Some(name), None) if self.compose_project.is_none() => {
                ContainerRef::Name(name.clone())
            }
            (None, Some(service)) => ContainerRef::Compose {
                service: service.clone(),
                project: self.compose_project.clone(),
            },
            (Some(_), _) => {
                return Err(issue(
                    format!("{key}.container"),
                    "expected either `container` or `compose_service` (with an optional `compose_project`), not both",
                ));
            }
            (None, None) => {
                return Err(issue(
                    format!("{key}.name"),
                    "expected `container` (a container name) or `compose_service` (a compose service label)",
                ));
            }
        };
        let env = env(&format!("{key}.env"), self.env.clone())?;
        Ok(DockerService {
            ready: self.ready(key)?,
            name: self.name,
            container,
            env,
        })
    }

    fn external(self, key: &str) -> Checked<ExternalService> {
        Ok(ExternalService {
            ready: self.ready(key)?,
            name: self.name,
            pids: self.pids.unwrap_or_default(),
            container: self.container,
        })
    }
}

/// A command line; a program given as a path is resolved against the scenario's directory.
fn command(key: &str, argv: &[String], dir: &Path, cwd: &Path) -> Checked<Command> {
    match argv.split_first() {
        Some((program, args)) if !program.trim().is_empty() => Ok(Command {
            program: if program.contains('/') {
                dir.join(program)
            } else {
                PathBuf::from(program)
            },
            args: args.to_vec(),
            cwd: cwd.to_path_buf(),
        }),
        _ => Err(issue(
            key,
            "expected a non-empty array: the program, then its arguments",
        )),
    }
}

fn env(key: &str, env: Option<BTreeMap<String, String>>) -> Checked<BTreeMap<String, String>> {
    let env = env.unwrap_or_default();
    if let Some(name) = env.keys().find(|k| k.is_empty() || k.contains('=')) {
        return Err(issue(
            format!("{key}.{name}"),
            "expected an environment variable name (non-empty, without `=`)",
        ));
    }
    Ok(env)
}

// ---- [request] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    #[serde(default)]
    kind: RequestProtocol,
    url: Option<String>,
    method: Option<String>,
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    expect: Option<Vec<i64>>,
    addr: Option<String>,
    #[serde(default = "connections")]
    connections: u32,
    #[serde(default = "max_in_flight")]
    max_in_flight: u32,
    #[serde(default = "uniform")]
    arrivals: Arrivals,
    #[serde(default = "secs::<10>", deserialize_with = "duration")]
    timeout: Duration,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum RequestProtocol {
    #[default]
    Http,
    Grpc,
}

fn connections() -> u32 {
    8
}
fn max_in_flight() -> u32 {
    256
}
fn uniform() -> Arrivals {
    Arrivals::Uniform
}

/// The gRPC body when none is given: a unique registration per request.
const GRPC_BODY: &str =
    r#"{"username":"tb-{run}-{seq}","email":"{uuid}@example.test","password":"tracebench"}"#;

impl RequestFile {
    fn validate(self) -> Checked<Request> {
        let template = |body: &str| Template::parse(body).map_err(|m| issue("request.body", m));
        let kind = match self.kind {
            RequestProtocol::Http => {
                let misplaced = self.addr.is_some().then_some("addr");
                if let Some(field) = misplaced {
                    return Err(issue(
                        format!("request.{field}"),
                        "is for kind = \"grpc\"; an HTTP request is given by `url`",
                    ));
                }
                let Some(url) = &self.url else {
                    return Err(issue("request.url", "expected the URL to send requests to"));
                };
                let url = http_url("request.url", url)?;
                let method = match self.method.as_deref() {
                    Some(m) => http::Method::from_bytes(m.as_bytes())
                        .ok()
                        .filter(|_| m.chars().all(|c| c.is_ascii_uppercase()))
                        .ok_or_else(|| {
                            issue(
                                "request.method",
                                format!(
                                    "expected an HTTP method such as \"GET\" or \"POST\", got {m:?}"
                                ),
                            )
                        })?,
                    None if self.body.is_some() => http::Method::POST,
                    None => http::Method::GET,
                };
                let mut headers = Vec::new();
                for (name, value) in self.headers {
                    let key = format!("request.headers.{name}");
                    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        return Err(issue(key, "expected a valid HTTP header name"));
                    }
                    if http::HeaderValue::from_str(&value).is_err() {
                        return Err(issue(key, "expected a header value of visible ASCII"));
                    }
                    headers.push((name, value));
                }
                let expect = self.expect.unwrap_or_else(|| vec![200, 201, 409]);
                if expect.is_empty() {
                    return Err(issue("request.expect", "expected at least one HTTP status"));
                }
                let expect = expect
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        u16::try_from(s)
                            .ok()
                            .filter(|s| (100..=599).contains(s))
                            .ok_or_else(|| {
                                issue(
                                    format!("request.expect[{i}]"),
                                    format!("expected an HTTP status between 100 and 599, got {s}"),
                                )
                            })
                    })
                    .collect::<Checked<_>>()?;
                RequestKind::Http {
                    url,
                    method,
                    headers,
                    body: self.body.as_deref().map(template).transpose()?,
                    expect,
                }
            }
            RequestProtocol::Grpc => {
                let misplaced = [
                    ("url", self.url.is_some()),
                    ("method", self.method.is_some()),
                    ("headers", !self.headers.is_empty()),
                    ("expect", self.expect.is_some()),
                ];
                if let Some((field, _)) = misplaced.iter().find(|(_, set)| *set) {
                    return Err(issue(
                        format!("request.{field}"),
                        "is for kind = \"http\"; a gRPC request is given by `addr` and `body`",
                    ));
                }
                let Some(addr) = &self.addr else {
                    return Err(issue(
                        "request.addr",
                        "expected the gRPC address, such as \"127.0.0.1:50051\"",
                    ));
                };
                let addr = loopback_addr("request.addr", addr)?;
                let body = template(self.body.as_deref().unwrap_or(GRPC_BODY))?;
                check_register_body(&body)?;
                RequestKind::Grpc { addr, body }
            }
        };
        if self.connections == 0 {
            return Err(issue(
                "request.connections",
                "expected at least 1 connection",
            ));
        }
        if self.max_in_flight == 0 {
            return Err(issue(
                "request.max_in_flight",
                "expected at least 1 request in flight",
            ));
        }
        Ok(Request {
            kind,
            connections: self.connections,
            max_in_flight: self.max_in_flight,
            arrivals: self.arrivals,
            timeout: positive("request.timeout", self.timeout)?,
        })
    }
}

/// The gRPC body must render to the `RegisterRequest` fields as a JSON object of strings.
fn check_register_body(body: &Template) -> Checked<()> {
    let expected = "expected a JSON object with string fields username, email and password";
    let rendered = body.render(0, "00000000-0000-4000-8000-000000000000", "run");
    let value: serde_json::Value = serde_json::from_str(&rendered)
        .map_err(|e| issue("request.body", format!("{expected}: {e}")))?;
    let ok = value.as_object().is_some_and(|o| {
        o.iter()
            .all(|(k, v)| ["username", "email", "password"].contains(&k.as_str()) && v.is_string())
    });
    if ok {
        Ok(())
    } else {
        Err(issue("request.body", expected))
    }
}

// ---- [modes] ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ModesFile {
    baseline: Option<String>,
    mode: Option<Vec<ModeFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeFile {
    name: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    sampling_ratio: Option<f64>,
}

/// Samplers of the OpenTelemetry spec (`OTEL_TRACES_SAMPLER`).
const SAMPLERS: [&str; 6] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];

/// design.md's modes: off, on, sampled at 10%.
fn default_modes() -> Vec<ModeFile> {
    let mode = |name: &str, env: &[(&str, &str)]| ModeFile {
        name: name.to_string(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        sampling_ratio: None,
    };
    vec![
        mode(
            "off",
            &[
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_TRACES_SAMPLER", "always_off"),
            ],
        ),
        mode("on", &[("OTEL_TRACES_SAMPLER", "always_on")]),
        mode(
            "sampled",
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ],
        ),
    ]
}

impl ModesFile {
    fn validate(self) -> Checked<(Vec<ModeInfo>, String)> {
        let modes = self.mode.unwrap_or_else(default_modes);
        if modes.is_empty() {
            return Err(issue(
                "modes.mode",
                "expected at least one [[modes.mode]] entry",
            ));
        }
        let mut infos: Vec<ModeInfo> = Vec::new();
        for (i, m) in modes.into_iter().enumerate() {
            let key = format!("modes.mode[{i}]");
            if m.name.trim().is_empty() {
                return Err(issue(
                    format!("{key}.name"),
                    "expected a non-empty mode name",
                ));
            }
            if infos.iter().any(|o| o.name == m.name) {
                return Err(issue(
                    format!("{key}.name"),
                    format!("duplicate mode name {:?}", m.name),
                ));
            }
            infos.push(m.validate(&key)?);
        }
        let baseline = self.baseline.unwrap_or_else(|| "off".to_string());
        if !infos.iter().any(|m| m.name == baseline) {
            let names: Vec<String> = infos.iter().map(|m| format!("{:?}", m.name)).collect();
            return Err(issue(
                "modes.baseline",
                format!(
                    "expected one of the modes ({}), got {baseline:?}",
                    names.join(", ")
                ),
            ));
        }
        Ok((infos, baseline))
    }
}

impl ModeFile {
    fn validate(self, key: &str) -> Checked<ModeInfo> {
        let env = env(&format!("{key}.env"), Some(self.env))?;
        let disabled = match env.get("OTEL_SDK_DISABLED").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(issue(
                    format!("{key}.env.OTEL_SDK_DISABLED"),
                    format!("expected \"true\" or \"false\", got {v:?}"),
                ));
            }
        };
        let arg = match env.get("OTEL_TRACES_SAMPLER_ARG") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        issue(
                            format!("{key}.env.OTEL_TRACES_SAMPLER_ARG"),
                            format!("expected a sampling ratio between 0 and 1, got {v:?}"),
                        )
                    })?,
            ),
        };
        let sampler = env.get("OTEL_TRACES_SAMPLER").map(String::as_str);
        let derived = match sampler {
            _ if disabled => 0.0,
            None | Some("always_on" | "parentbased_always_on") => 1.0,
            Some("always_off" | "parentbased_always_off") => 0.0,
            Some("traceidratio" | "parentbased_traceidratio") => arg.unwrap_or(1.0),
            Some(other) => {
                return Err(issue(
                    format!("{key}.env.OTEL_TRACES_SAMPLER"),
                    format!("expected one of {}, got {other:?}", SAMPLERS.join(", ")),
                ));
            }
        };
        let sampling_ratio = match self.sampling_ratio {
            Some(r) if !(0.0..=1.0).contains(&r) => {
                return Err(issue(
                    format!("{key}.sampling_ratio"),
                    format!("expected a sampling ratio between 0 and 1, got {r}"),
                ));
            }
            Some(r) => r,
            None => derived,
        };
        Ok(ModeInfo {
            name: self.name,
            sampling_ratio,
            env,
        })
    }
}

// ---- [load] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    rates: Vec<f64>,
    #[serde(default = "secs::<5>", deserialize_with = "duration")]
    warmup: Duration,
    #[serde(default = "secs::<15>", deserialize_with = "duration")]
    duration: Duration,
    #[serde(default = "rounds")]
    rounds: u32,
    #[serde(default = "seed")]
    seed: u64,
    #[serde(default = "secs::<1>", deserialize_with = "duration")]
    settle: Duration,
    #[serde(default = "secs::<5>", deserialize_with = "duration")]
    ingestion_wait: Duration,
}

fn rounds() -> u32 {
    3
}
fn seed() -> u64 {
    1
}

impl LoadFile {
    fn validate(self) -> Checked<Load> {
        if self.rates.is_empty() {
            return Err(issue(
                "load.rates",
                "expected at least one rate (requests per second)",
            ));
        }
        for (i, &r) in self.rates.iter().enumerate() {
            if !(r.is_finite() && r > 0.0) {
                return Err(issue(
                    format!("load.rates[{i}]"),
                    format!("expected a positive number of requests per second, got {r}"),
                ));
            }
            if self.rates[..i].contains(&r) {
                return Err(issue(
                    format!("load.rates[{i}]"),
                    format!("duplicate rate {r}"),
                ));
            }
        }
        if self.duration < Duration::from_secs(1) {
            return Err(issue(
                "load.duration",
                format!(
                    "expected at least 1s of measurement per cell, got {}",
                    humantime::format_duration(self.duration)
                ),
            ));
        }
        if self.rounds == 0 {
            return Err(issue("load.rounds", "expected at least 1 round"));
        }
        Ok(Load {
            rates: self.rates,
            warmup: self.warmup,
            duration: self.duration,
            rounds: self.rounds,
            seed: self.seed,
            settle: self.settle,
            ingestion_wait: self.ingestion_wait,
        })
    }
}

// ---- [traces] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TracesFile {
    #[serde(default)]
    store: StoreKind,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default = "yes")]
    count: bool,
    #[serde(default = "probes")]
    probes: u32,
    #[serde(default)]
    services: Vec<String>,
    root_service: Option<String>,
    sink: Option<SinkFile>,
    tempo: Option<TempoFile>,
}

impl Default for TracesFile {
    fn default() -> Self {
        TracesFile {
            store: StoreKind::Sink,
            required: true,
            count: true,
            probes: probes(),
            services: Vec::new(),
            root_service: None,
            sink: None,
            tempo: None,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum StoreKind {
    #[default]
    Sink,
    Tempo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkFile {
    #[serde(default = "otlp_grpc")]
    otlp_grpc: String,
    #[serde(default = "otlp_http")]
    otlp_http: String,
    #[serde(default = "api")]
    api: String,
}

impl Default for SinkFile {
    fn default() -> Self {
        SinkFile {
            otlp_grpc: otlp_grpc(),
            otlp_http: otlp_http(),
            api: api(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TempoFile {
    url: String,
    tenant: Option<String>,
    token_env: Option<String>,
}

fn yes() -> bool {
    true
}
fn probes() -> u32 {
    5
}
fn otlp_grpc() -> String {
    "127.0.0.1:14317".to_string()
}
fn otlp_http() -> String {
    "127.0.0.1:14318".to_string()
}
fn api() -> String {
    "127.0.0.1:13200".to_string()
}

impl TracesFile {
    fn validate(self) -> Checked<Traces> {
        let store = match self.store {
            StoreKind::Sink => {
                if self.tempo.is_some() {
                    return Err(issue("traces.tempo", "only used with store = \"tempo\""));
                }
                let sink = self.sink.unwrap_or_default();
                let otlp_grpc = loopback_addr("traces.sink.otlp_grpc", &sink.otlp_grpc)?;
                let otlp_http = loopback_addr("traces.sink.otlp_http", &sink.otlp_http)?;
                let api = loopback_addr("traces.sink.api", &sink.api)?;
                if otlp_http.port() != 0 && otlp_http.port() == otlp_grpc.port() {
                    return Err(issue(
                        "traces.sink.otlp_http",
                        "expected a port other than otlp_grpc's",
                    ));
                }
                if api.port() != 0 && [otlp_grpc.port(), otlp_http.port()].contains(&api.port()) {
                    return Err(issue(
                        "traces.sink.api",
                        "expected a port other than the OTLP receivers'",
                    ));
                }
                TraceStore::Sink {
                    otlp_grpc,
                    otlp_http,
                    api,
                }
            }
            StoreKind::Tempo => {
                if self.sink.is_some() {
                    return Err(issue("traces.sink", "only used with store = \"sink\""));
                }
                let Some(tempo) = self.tempo else {
                    return Err(issue(
                        "traces.store",
                        "store = \"tempo\" expects a [traces.tempo] table with its `url`",
                    ));
                };
                let url = tempo.url.trim_end_matches('/').to_string();
                check_url("traces.tempo.url", &url, false)?;
                TraceStore::Tempo {
                    url,
                    tenant: tempo.tenant,
                    token_env: tempo.token_env,
                }
            }
        };
        for (i, s) in self.services.iter().enumerate() {
            if s.trim().is_empty() {
                return Err(issue(
                    format!("traces.services[{i}]"),
                    "expected a service name",
                ));
            }
            if self.services[..i].contains(s) {
                return Err(issue(
                    format!("traces.services[{i}]"),
                    format!("duplicate service {s:?}"),
                ));
            }
        }
        if let Some(root) = &self.root_service
            && !self.services.is_empty()
            && !self.services.contains(root)
        {
            return Err(issue(
                "traces.root_service",
                format!("expected one of traces.services, got {root:?}"),
            ));
        }
        Ok(Traces {
            store,
            required: self.required,
            count: self.count,
            probes: self.probes,
            services: self.services,
            root_service: self.root_service,
        })
    }
}

// ---- [budgets] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BudgetsFile {
    latency_ms: BTreeMap<String, f64>,
    cpu_pp: f64,
    memory_mb: f64,
    memory_expected_mb: [f64; 2],
    trace_volume_tolerance: f64,
}

/// The deployment checklist's limits.
impl Default for BudgetsFile {
    fn default() -> Self {
        BudgetsFile {
            latency_ms: [("p50".to_string(), 1.0), ("p99".to_string(), 1.0)].into(),
            cpu_pp: 1.0,
            memory_mb: 20.0,
            memory_expected_mb: [10.0, 20.0],
            trace_volume_tolerance: 0.0,
        }
    }
}

impl BudgetsFile {
    fn validate(self) -> Checked<Budgets> {
        let percentiles = ["p50", "p90", "p99", "p999", "max", "mean"];
        for (name, &ms) in &self.latency_ms {
            let key = format!("budgets.latency_ms.{name}");
            if !percentiles.contains(&name.as_str()) {
                return Err(issue(
                    key,
                    format!("expected a percentile name: {}", percentiles.join(", ")),
                ));
            }
            at_least_zero(&key, ms, "milliseconds")?;
        }
        at_least_zero("budgets.cpu_pp", self.cpu_pp, "percentage points")?;
        at_least_zero("budgets.memory_mb", self.memory_mb, "MB")?;
        let [low, high] = self.memory_expected_mb;
        if !(low.is_finite() && high.is_finite() && 0.0 <= low && low <= high) {
            return Err(issue(
                "budgets.memory_expected_mb",
                format!("expected [low, high] MB with 0 <= low <= high, got [{low}, {high}]"),
            ));
        }
        at_least_zero(
            "budgets.trace_volume_tolerance",
            self.trace_volume_tolerance,
            "(a fraction)",
        )?;
        Ok(Budgets {
            latency_ms: self.latency_ms,
            cpu_pp: Some(self.cpu_pp),
            memory_mb: Some(self.memory_mb),
            memory_expected_mb: Some((low, high)),
            trace_volume_tolerance: Some(self.trace_volume_tolerance),
        })
    }
}

fn at_least_zero(key: &str, value: f64, unit: &str) -> Checked<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(issue(
            key,
            format!("expected a number >= 0 {unit}, got {value}"),
        ))
    }
}

// ---- shared value checks ----

fn secs<const N: u64>() -> Duration {
    Duration::from_secs(N)
}

fn positive(key: &str, d: Duration) -> Checked<Duration> {
    if d.is_zero() {
        Err(issue(key, "expected a duration above zero"))
    } else {
        Ok(d)
    }
}

/// A humantime duration string (`"10s"`, `"1m 30s"`, `"500ms"`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct Humantime;
    impl Visitor<'_> for Humantime {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a duration such as \"10s\", \"500ms\" or \"1m 30s\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            humantime::parse_duration(s).map_err(|_| {
                E::custom(format!(
                    "expected a duration such as \"10s\", \"500ms\" or \"1m 30s\", got {s:?}"
                ))
            })
        }
    }
    d.deserialize_str(Humantime)
}

/// Hosts the project may send traffic to.
fn is_loopback_host(host: &str) -> bool {
    matches!(
        host.trim_start_matches('[').trim_end_matches(']'),
        "127.0.0.1" | "::1" | "localhost"
    )
}

/// An http(s) URL with a host; when `loopback`, the host must be 127.0.0.1, ::1 or localhost.
fn check_url(key: &str, url: &str, loopback: bool) -> Checked<()> {
    let uri: http::Uri = url.parse().map_err(|_| {
        issue(
            key,
            format!("expected an http:// or https:// URL, got {url:?}"),
        )
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(issue(
            key,
            format!("expected an http:// or https:// URL, got {url:?}"),
        ));
    }
    let host = uri.host().unwrap_or_default();
    if loopback && !is_loopback_host(host) {
        return Err(issue(
            key,
            format!(
                "expected a loopback host (127.0.0.1, ::1 or localhost), got {host:?}: tracebench sends load only to this machine"
            ),
        ));
    }
    Ok(())
}

/// A URL tracebench sends traffic to: http(s) on a loopback host.
fn http_url(key: &str, url: &str) -> Checked<String> {
    check_url(key, url, true)?;
    Ok(url.to_string())
}

/// `IP:PORT` (or `localhost:PORT`) on a loopback address.
fn loopback_addr(key: &str, text: &str) -> Checked<SocketAddr> {
    let expected = "expected a loopback address such as \"127.0.0.1:4317\" or \"[::1]:4317\"";
    let addr = match text.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .ok(),
        None => text.parse::<SocketAddr>().ok(),
    };
    let Some(addr) = addr else {
        return Err(issue(key, format!("{expected}, got {text:?}")));
    };
    if !is_loopback_host(&addr.ip().to_string()) {
        return Err(issue(
            key,
            format!("{expected}, got {text:?}: tracebench binds and connects only on this machine"),
        ));
    }
    Ok(addr)
}
