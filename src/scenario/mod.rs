//! Scenarios: what a run measures, read from a TOML file and validated up front, so a mistake
//! costs a second and names its file, line and key instead of surfacing minutes into a run.
//!
//! `file` holds the serde shape of the file (`deny_unknown_fields` everywhere) and turns it into
//! the validated [`Scenario`] below; `locate` maps errors to lines; `plan` orders the cells
//! (a balanced design, see there). Relative paths in a scenario (programs, `cwd`) are resolved against the
//! directory of the scenario file, never against the current directory.

mod file;
mod locate;
mod plan;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::results::{Budgets, ModeInfo};

pub use crate::load::{Arrivals, BodyTemplate, Endpoint, GrpcEndpoint, HttpEndpoint};
pub use plan::{Cell, williams};

/// The embedded default scenario (`scenarios/quick.toml`).
pub const QUICK: &str = include_str!("../../scenarios/quick.toml");

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name` from the file, else the file's stem.
    pub name: String,
    pub description: Option<String>,
    /// The file it was read from, as given.
    pub path: PathBuf,
    pub target: TargetConfig,
    pub request: Request,
    /// In the order the file lists them; with variants, every variant crossed with every mode
    /// (`base/off`, `base/on`, ..., `candidate/off`, ...).
    pub modes: Vec<ModeInfo>,
    /// The mode the others are measured against (with variants, in each variant: see
    /// [`Scenario::baselines`]).
    pub baseline: String,
    /// The builds measured side by side, the base first; empty for one build.
    pub variants: Vec<Variant>,
    pub load: Load,
    pub traces: TracesConfig,
    pub budgets: Budgets,
}

/// One build of the services: what runs instead of each service's own command or image, and
/// environment added under the mode's.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// Added to every service of this variant.
    pub env: BTreeMap<String, String>,
    /// By service name.
    pub services: BTreeMap<String, VariantService>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VariantService {
    /// `None`: the service's own command or image.
    pub runs: Option<ServiceRuns>,
    /// Added to this service, over the variant's `env`.
    pub env: BTreeMap<String, String>,
}

/// What a service runs in a variant.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceRuns {
    /// A process service's program and arguments (in the service's own `cwd`).
    Command(CommandLine),
    /// A docker service's image.
    Image(String),
}

/// The system under test and how tracebench controls it.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetConfig {
    /// Local commands, spawned with each mode's environment.
    Process {
        services: Vec<ProcessService>,
        ready_timeout: Duration,
    },
    /// Containers, recreated with each mode's environment and restored at the end.
    Docker {
        services: Vec<DockerService>,
        ready_timeout: Duration,
    },
    /// Services the user restarts by hand when asked to switch modes.
    External {
        services: Vec<ExternalService>,
        ready_timeout: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessService {
    pub name: String,
    pub command: CommandLine,
    /// Added to the inherited environment, before the mode's overrides.
    pub env: BTreeMap<String, String>,
    pub ready: Option<ReadyCheck>,
    /// Run once before the run (e.g. `cargo build`), in the service's `cwd`.
    pub build: Option<CommandLine>,
}

/// A program and its arguments, with the directory to run it in.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLine {
    /// A bare name (`cargo`) is looked up on PATH; a path is resolved against the scenario's
    /// directory.
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DockerService {
    pub name: String,
    pub container: ContainerRef,
    /// Added to the container's own environment, before the mode's overrides.
    pub env: BTreeMap<String, String>,
    pub ready: Option<ReadyCheck>,
}

/// How a container is found.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerRef {
    Name(String),
    /// By the labels docker compose sets: `com.docker.compose.service` (and `.project`).
    Compose {
        service: String,
        project: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExternalService {
    pub name: String,
    /// Processes to sample CPU and memory from, if any.
    pub pids: Vec<u32>,
    /// A container to sample instead, if any.
    pub container: Option<String>,
    pub ready: Option<ReadyCheck>,
}

/// When a (re)started service counts as up.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadyCheck {
    /// GET this URL until it answers 2xx.
    Http(String),
    /// Until a TCP connection is accepted.
    Tcp(SocketAddr),
}

/// The request the load driver sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What to send where, as the driver takes it (checked once, when the file is read).
    pub endpoint: Endpoint,
    /// Connections (HTTP) or channels (gRPC) the driver opens.
    pub connections: u32,
    /// Requests in flight at most; due requests beyond it are dropped and counted.
    pub max_in_flight: u32,
    pub arrivals: Arrivals,
    /// A request taking longer is an error.
    pub timeout: Duration,
}

/// Rates, durations and rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Requests per second, each measured in every mode.
    pub rates: Vec<f64>,
    /// Load before each measured window, not recorded.
    pub warmup: Duration,
    /// The measured window of each cell.
    pub duration: Duration,
    /// Rounds before the first look: the run measures at least this many.
    pub rounds: u32,
    /// Rounds at most: after `rounds`, whole squares of the order are added until every budget
    /// is decided or this is reached.
    pub max_rounds: u32,
    /// No square is started that would, at the pace so far, end the cells after this; `None`:
    /// no time cap.
    pub max_duration: Option<Duration>,
    /// Seeds the order of cells ([`plan`](Scenario::plan)); `None`: a new seed every run.
    pub seed: Option<u64>,
    /// Pause after a restart, once ready, before the warm-up.
    pub settle: Duration,
    /// Wait after the last cell before counting traces, so the store has ingested them.
    pub ingestion_wait: Duration,
}

/// Where traces are counted and what a complete trace looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    pub store: TraceStore,
    /// When true, an unreachable store breaks the run (exit 4); else trace figures are skipped.
    pub required: bool,
    /// Count traces per cell (set false to only run the probes).
    pub count: bool,
    /// Probe requests with known sampled trace IDs.
    pub probes: u32,
    /// Services (`service.name`) every probe trace must contain; empty: not checked.
    pub services: Vec<String>,
    /// The service whose root spans are counted; `None` counts every trace.
    pub root_service: Option<String>,
    /// How many of each cell's slowest requests to look up in the store (0: none).
    pub slowest: usize,
    /// Where the report links a trace; `None`: Grafana Explore for Tempo, the sink's own
    /// `/api/traces/<id>`.
    pub link: Option<crate::traces::link::TraceLink>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceStore {
    /// The built-in sink, run in-process.
    Sink {
        otlp_grpc: SocketAddr,
        otlp_http: SocketAddr,
        api: SocketAddr,
    },
    Tempo {
        url: String,
        /// Sent as `X-Scope-OrgID`.
        tenant: Option<String>,
        /// Name of the environment variable holding a bearer token (never the token itself).
        token_env: Option<String>,
    },
}

/// A scenario that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; `None` when the file could not be read at all.
    pub line: Option<usize>,
    /// Dotted key path (`load.rates[1]`); empty when the mistake is not inside a key.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl TargetConfig {
    /// The services' names, in file order.
    pub fn service_names(&self) -> Vec<&str> {
        match self {
            TargetConfig::Process { services, .. } => {
                services.iter().map(|s| s.name.as_str()).collect()
            }
            TargetConfig::Docker { services, .. } => {
                services.iter().map(|s| s.name.as_str()).collect()
            }
            TargetConfig::External { services, .. } => {
                services.iter().map(|s| s.name.as_str()).collect()
            }
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.display().to_string(),
            line: None,
            key: String::new(),
            message: format!("cannot read the scenario: {e}"),
        })?;
        Scenario::from_str(&text, path)
    }

    /// Validates scenario text; `path` names it in errors and anchors its relative paths.
    #[allow(clippy::should_implement_trait)] // needs the path, so not `FromStr`
    pub fn from_str(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        file::parse(text, path.as_ref())
    }

    /// The embedded default, anchored at this source tree's `scenarios/` so that its relative
    /// paths reach the demo binaries built here.
    pub fn quick() -> Result<Scenario, ScenarioError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quick.toml");
        Scenario::from_str(QUICK, path)
    }

    pub fn mode(&self, name: &str) -> Option<&ModeInfo> {
        self.modes.iter().find(|m| m.name == name)
    }

    /// The modes every other is measured against: the baseline, or each variant's.
    pub fn baselines(&self) -> Vec<String> {
        if self.variants.is_empty() {
            return vec![self.baseline.clone()];
        }
        self.variants
            .iter()
            .map(|v| format!("{}/{}", v.name, self.baseline))
            .collect()
    }

    /// The variant a (crossed) mode belongs to; `None` for a run of one build.
    pub fn variant_of(&self, mode: &str) -> Option<&Variant> {
        let (variant, _) = crate::results::split_mode(mode);
        self.variants
            .iter()
            .find(|v| Some(v.name.as_str()) == variant)
    }

    /// The services' names, in file order.
    pub fn service_names(&self) -> Vec<&str> {
        self.target.service_names()
    }

    /// `process`, `docker` or `external`.
    pub fn target_kind(&self) -> &'static str {
        match self.target {
            TargetConfig::Process { .. } => "process",
            TargetConfig::Docker { .. } => "docker",
            TargetConfig::External { .. } => "external",
        }
    }

    /// Where the load goes: the URL, or `grpc://ADDR`.
    pub fn request_target(&self) -> String {
        match &self.request.endpoint {
            Endpoint::Http(http) => http.url.to_string(),
            Endpoint::Grpc(grpc) => {
                format!("grpc://{}", grpc.uri.authority().map_or("", |a| a.as_str()))
            }
        }
    }

    /// `host:port` the load goes to (one run at a time holds it: `run::lock`).
    pub fn load_address(&self) -> String {
        let uri = match &self.request.endpoint {
            Endpoint::Http(http) => &http.url,
            Endpoint::Grpc(grpc) => &grpc.uri,
        };
        let host = uri.host().unwrap_or_default();
        format!("{host}:{}", uri.port_u16().unwrap_or(80))
    }

    /// The distinct build commands of the process services, in file order.
    pub fn build_commands(&self) -> Vec<&CommandLine> {
        let mut out: Vec<&CommandLine> = Vec::new();
        if let TargetConfig::Process { services, .. } = &self.target {
            for build in services.iter().filter_map(|s| s.build.as_ref()) {
                if !out.contains(&build) {
                    out.push(build);
                }
            }
        }
        out
    }
}
