//! Applying a tracing mode to the system under test, and putting it back as it was.
//!
//! Real services read `OTEL_*` at start-up, so a mode is applied by restarting each service with
//! environment overrides: [`process`] spawns local commands, [`docker`] recreates named containers
//! through the daemon, [`external`] asks the user to do it. [`Target`] delegates to them by `match`
//! (no async trait objects).
//!
//! Restoring must happen on every path: [`Target::guarded`] runs the work and then restores,
//! after success, error, or Ctrl-C / SIGTERM ([`shutdown`], acted on between steps).
//! Given a [`journal::Journal`], the process and docker targets announce every step in it first,
//! so a run that dies without restoring is put back by [`journal::recover`].

pub mod docker;
pub mod external;
pub mod journal;
pub mod process;
mod ready;
pub mod shutdown;

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

pub use ready::{NotReady, Readiness};
pub use shutdown::{Shutdown, shutdown_signal};

use crate::resources::Source;
use crate::scenario;

/// Environment overrides for one mode: service name -> variable -> value. A service not listed
/// runs with no override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModeEnv {
    /// The mode's name (`off`, `on`, `sampled`, ...), recorded with results.
    pub mode: String,
    pub services: BTreeMap<String, BTreeMap<String, String>>,
    /// What a service runs instead of its own command or image (a variant's build), by name.
    pub runs: BTreeMap<String, scenario::ServiceRuns>,
}

impl ModeEnv {
    /// The same overrides for every listed service.
    pub fn uniform<'a>(
        mode: &str,
        services: impl IntoIterator<Item = &'a str>,
        env: &BTreeMap<String, String>,
    ) -> ModeEnv {
        ModeEnv {
            mode: mode.to_string(),
            services: services
                .into_iter()
                .map(|s| (s.to_string(), env.clone()))
                .collect(),
            runs: BTreeMap::new(),
        }
    }

    /// The mode's overrides in a variant: the variant's environment, then its service's, then
    /// the mode's, and the variant's command or image where it sets one.
    pub fn in_variant(mut self, variant: &scenario::Variant) -> ModeEnv {
        for (service, env) in &mut self.services {
            let own = variant.services.get(service);
            let mut merged = variant.env.clone();
            merged.extend(own.map(|s| s.env.clone()).unwrap_or_default());
            merged.extend(std::mem::take(env));
            *env = merged;
            if let Some(runs) = own.and_then(|s| s.runs.clone()) {
                self.runs.insert(service.clone(), runs);
            }
        }
        self
    }

    /// The overrides for one service (empty when it has none).
    pub fn for_service(&self, service: &str) -> BTreeMap<String, String> {
        self.services.get(service).cloned().unwrap_or_default()
    }
}

/// The run was interrupted by a signal; the target was restored before this error surfaced.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}; the target was restored")]
pub struct Interrupted(pub &'static str);

/// The system under test.
pub enum Target {
    Process(process::ProcessTarget),
    Docker(docker::DockerTarget),
    External(external::ExternalTarget),
}

impl Target {
    /// The target a scenario describes. Docker: connects and finds every container (changing
    /// nothing yet). Process: output goes to files in `run_dir`. External: `prompt` asks on the
    /// terminal before each mode.
    pub async fn from_scenario(
        target: &scenario::TargetConfig,
        run_dir: &std::path::Path,
        prompt: bool,
    ) -> anyhow::Result<Target> {
        let readiness = |ready: &Option<scenario::ReadyCheck>| match ready {
            Some(scenario::ReadyCheck::Http(url)) => Readiness::Http(url.clone()),
            Some(scenario::ReadyCheck::Tcp(addr)) => Readiness::Tcp(*addr),
            None => Readiness::Started,
        };
        Ok(match target {
            scenario::TargetConfig::Process {
                services,
                ready_timeout,
            } => {
                let commands = services
                    .iter()
                    .map(|s| process::ServiceCommand {
                        name: s.name.clone(),
                        program: s.command.program.clone(),
                        args: s.command.args.clone(),
                        env: s.env.clone(),
                        cwd: Some(s.command.cwd.clone()),
                        readiness: readiness(&s.ready),
                    })
                    .collect();
                let mut t = process::ProcessTarget::new(commands, run_dir.to_path_buf());
                t.ready_timeout = *ready_timeout;
                Target::Process(t)
            }
            scenario::TargetConfig::Docker {
                services,
                ready_timeout,
            } => {
                let specs = services
                    .iter()
                    .map(|s| docker::ContainerSpec {
                        service: s.name.clone(),
                        selector: match &s.container {
                            scenario::ContainerRef::Name(name) => {
                                docker::Selector::Name(name.clone())
                            }
                            scenario::ContainerRef::Compose { service, project } => {
                                docker::Selector::ComposeService {
                                    service: service.clone(),
                                    project: project.clone(),
                                }
                            }
                        },
                        env: s.env.clone(),
                        readiness: readiness(&s.ready),
                    })
                    .collect();
                let mut t = docker::DockerTarget::new(docker::connect().await?, specs).await?;
                t.ready_timeout = *ready_timeout;
                Target::Docker(t)
            }
            scenario::TargetConfig::External { services, .. } => {
                let sources = services
                    .iter()
                    .flat_map(|s| {
                        let pids = (!s.pids.is_empty()).then(|| Source::Process {
                            service: s.name.clone(),
                            pids: s.pids.clone(),
                        });
                        // One or the other: the scenario refuses both.
                        pids.or_else(|| {
                            s.container.as_ref().map(|c| Source::Container {
                                service: s.name.clone(),
                                container: c.clone(),
                            })
                        })
                    })
                    .collect();
                Target::External(external::ExternalTarget::new(prompt, sources))
            }
        })
    }

    /// Whether the target changes anything (the external target does not: it needs no journal).
    pub fn changes_services(&self) -> bool {
        !matches!(self, Target::External(_))
    }

    /// Writes every later step (and, for docker, every original container) to `journal` first.
    /// Call it before the first `apply`; an external target has no use for it.
    pub fn with_journal(self, journal: journal::Journal) -> anyhow::Result<Target> {
        Ok(match self {
            Target::Process(t) => Target::Process(t.with_journal(journal)),
            Target::Docker(t) => Target::Docker(t.with_journal(journal)?),
            Target::External(_) => anyhow::bail!("an external target keeps no journal"),
        })
    }

    /// Restarts the services with the mode's overrides and waits until each is ready. A step
    /// that changes the target (stop, rename, create, start, spawn) always finishes once begun and
    /// is recorded before the next: `cancel` ends only the waits (readiness, the external prompt)
    /// and stops apply between steps, returning `Ok` with the services half switched, so that
    /// restore knows every container and process there is. Callers check `cancel` after it. On
    /// error too the services may be half switched: the caller still owes a [`Target::restore`].
    pub async fn apply(
        &mut self,
        mode: &ModeEnv,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        match self {
            Target::Process(t) => t.apply(mode, cancel).await,
            Target::Docker(t) => t.apply(mode, cancel).await,
            Target::External(t) => t.apply(mode, cancel).await,
        }
    }

    /// Puts every service back as it was before the first `apply`, and records it in the
    /// journal. Idempotent.
    pub async fn restore(&mut self) -> anyhow::Result<()> {
        match self {
            Target::Process(t) => t.restore().await?,
            Target::Docker(t) => t.restore().await?,
            Target::External(t) => t.restore().await?,
        }
        self.journal().map_or(Ok(()), |j| j.restored())
    }

    /// Announces a phase of the run (measuring, probing) in the journal, so a failure can be
    /// placed, and injected, there.
    pub fn mark(&mut self, phase: &str) -> anyhow::Result<()> {
        self.journal().map_or(Ok(()), |j| j.step(phase))
    }

    fn journal(&mut self) -> Option<&mut journal::Journal> {
        match self {
            Target::Process(t) => t.journal.as_mut(),
            Target::Docker(t) => t.journal.as_mut(),
            Target::External(_) => None,
        }
    }

    /// What the resource samplers should watch in the current mode (processes by PID, containers
    /// by ID; for an external target, what the scenario names).
    pub fn sources(&self) -> Vec<Source> {
        match self {
            Target::Process(t) => t.sources(),
            Target::Docker(t) => t.sources(),
            Target::External(t) => t.sources.clone(),
        }
    }

    /// Runs `body` with the target and `shutdown`'s token, then always restores the target:
    /// after success, after an error, and after Ctrl-C or SIGTERM, which `body` sees through the
    /// token between its steps (then, if `body` itself did not fail, the result is an
    /// [`Interrupted`] error). A restore failure is reported, after the body's own error if any.
    pub async fn guarded<T>(
        &mut self,
        shutdown: &Shutdown,
        body: impl AsyncFnOnce(&mut Target, &CancellationToken) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let outcome = match (body(self, shutdown.token()).await, shutdown.signal()) {
            (Ok(_), Some(signal)) => Err(Interrupted(signal).into()),
            (outcome, _) => outcome,
        };
        let restored = self.restore().await;
        match (outcome, restored) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(err), Ok(())) => Err(err),
            (Ok(_), Err(restore_err)) => Err(restore_err.context("restoring the target")),
            (Err(err), Err(restore_err)) => Err(err.context(format!(
                "and restoring the target failed too: {restore_err:#}"
            ))),
        }
    }
}
