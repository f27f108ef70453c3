//! The docker target: named containers, switched between modes by recreating them.
//!
//! A mode needs a restart with other environment variables, and a container's environment cannot
//! be changed in place. On the first `apply` each original container is stopped and renamed aside
//! (`<name>-tracebench-original`); a mode container is created under the original name from the
//! original's inspected configuration (same image ID, command, entrypoint, user, working dir,
//! labels, healthcheck, host config with its published ports, mounts and restart policy, every
//! network with its aliases) with the mode's overrides merged into its environment and one extra
//! labels, `tracebench.mode` and `tracebench.run` (the run's own value). Restore removes the
//! run's containers and renames each original back, starting it if it was running. Keeping the
//! original aside is more faithful than recreating it from its inspected configuration: it keeps
//! its ID, creation time, writable layer and anonymous volumes, and any setting this module does
//! not know about.
//!
//! Every original and every step is written to the run's journal before the Docker call, so a
//! run that died is put back from its journal (`put_back`, through `journal::recover`). Without
//! a journal (lost with its run directory), the next run still finds what a dead run left: an
//! aside container found at start is taken as the original.
//!
//! Only containers the scenario names are touched; a missing one or an unreachable daemon is an
//! error before anything changes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, NetworkConnectRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use tokio_util::sync::CancellationToken;

mod config;
mod restore;
mod wait;

use config::{endpoints, mode_config};
pub(super) use restore::put_back;
use wait::wait_ready;

use super::journal::{Entry, Journal, Original};
use super::{ModeEnv, Readiness};
use crate::resources::Source;
use crate::scenario::ServiceRuns;

/// The label tracebench puts on the containers it creates, holding the mode's name.
pub const MODE_LABEL: &str = "tracebench.mode";
/// The label tracebench puts on the containers it creates, holding the run's label value.
pub const RUN_LABEL: &str = "tracebench.run";
/// The label docker-compose puts on a service's containers.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";
/// The label docker-compose puts on a project's containers.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
const ASIDE_SUFFIX: &str = "-tracebench-original";

/// Which container a scenario service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A container name (or ID).
    Name(String),
    /// The single container labelled `com.docker.compose.service=<service>` (and
    /// `com.docker.compose.project=<project>` when given).
    ComposeService {
        service: String,
        project: Option<String>,
    },
}

/// One service of the scenario, as a container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub service: String,
    pub selector: Selector,
    /// Added to the container's own environment, before the mode's overrides.
    pub env: BTreeMap<String, String>,
    /// Besides its healthcheck (waited for when the container has one).
    pub readiness: Readiness,
}

pub struct DockerTarget {
    docker: Docker,
    managed: Vec<Managed>,
    /// How long one container may take to become ready.
    pub ready_timeout: Duration,
    /// The value of [`RUN_LABEL`] on the containers this target creates.
    run_label: String,
    pub(super) journal: Option<Journal>,
}

struct Managed {
    spec: ContainerSpec,
    /// The container's name, without the leading '/'.
    name: String,
    original: ContainerInspectResponse,
    /// Whether the original has been renamed aside (from the first apply until restore).
    aside: bool,
    /// The container serving now: the original, or a mode container.
    current_id: String,
}

/// Connects to the local daemon (DOCKER_HOST or the default socket) with a version both sides speak.
pub async fn connect() -> anyhow::Result<Docker> {
    let where_ = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default socket".into());
    let unreachable = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("the Docker daemon is unreachable at {where_}: {e}")
    };
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| unreachable(&e))?
        .negotiate_version()
        .await
        .map_err(|e| unreachable(&e))?;
    docker.ping().await.map_err(|e| unreachable(&e))?;
    Ok(docker)
}

impl DockerTarget {
    /// Finds every named container; changes nothing. Fails on the first missing or ambiguous one.
    pub async fn new(docker: Docker, specs: Vec<ContainerSpec>) -> anyhow::Result<DockerTarget> {
        let mut managed = Vec::new();
        for spec in specs {
            let name = resolve(&docker, &spec).await?;
            managed.push(adopt(&docker, spec, name).await?);
        }
        Ok(DockerTarget {
            docker,
            managed,
            ready_timeout: Duration::from_secs(60),
            run_label: crate::load::new_run_id(),
            journal: None,
        })
    }

    /// Each service's image as its original container runs it: the service, the image the
    /// container was created from, and its ID.
    pub fn images(&self) -> Vec<(String, String, Option<String>)> {
        self.managed
            .iter()
            .map(|m| {
                let name = m.original.config.as_ref().and_then(|c| c.image.clone());
                let id = m.original.image.clone();
                (m.spec.service.clone(), name.unwrap_or_default(), id)
            })
            .collect()
    }

    /// The ID of a local image, `None` when the daemon has none by that name.
    pub async fn image_id(&self, image: &str) -> Option<String> {
        self.docker.inspect_image(image).await.ok()?.id
    }

    /// Records every original in `journal`, and from now on every step before it is taken.
    pub fn with_journal(mut self, mut journal: Journal) -> anyhow::Result<DockerTarget> {
        for original in self.originals() {
            journal.write(&Entry::Container(original))?;
        }
        self.run_label = journal.run_label().to_string();
        self.journal = Some(journal);
        Ok(self)
    }

    pub(super) async fn apply(
        &mut self,
        mode: &ModeEnv,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let (docker, journal) = (&self.docker, &mut self.journal);
        for m in &mut self.managed {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if m.aside {
                remove_mode_container(docker, &m.current_id, journal).await?;
            } else {
                step(journal, format!("stop {}", m.name))?;
                stop(docker, &m.name).await?;
                let aside = aside_name(&m.name);
                step(journal, format!("rename {} to {aside}", m.name))?;
                rename(docker, &m.name, &aside).await?;
                m.aside = true;
            }
            // Nothing serves until the new container exists: a failed create must not leave an
            // ID that restore would remove.
            m.current_id.clear();
            m.current_id = create_mode_container(docker, m, mode, &self.run_label, journal).await?;
        }
        for m in &self.managed {
            tokio::select! {
                ready = wait_ready(&self.docker, m, self.ready_timeout) => ready?,
                () = cancel.cancelled() => return Ok(()),
            }
        }
        Ok(())
    }

    pub(super) async fn restore(&mut self) -> anyhow::Result<()> {
        let originals = self.originals();
        put_back(&self.docker, &originals, &self.run_label, &mut self.journal).await?;
        for (m, original) in self.managed.iter_mut().zip(originals) {
            m.aside = false;
            m.current_id = original.id;
        }
        Ok(())
    }

    /// Every container as it was before the run.
    fn originals(&self) -> Vec<Original> {
        self.managed
            .iter()
            .map(|m| Original {
                service: m.spec.service.clone(),
                name: m.name.clone(),
                id: m.original.id.clone().unwrap_or_default(),
                running: m
                    .original
                    .state
                    .as_ref()
                    .and_then(|s| s.running)
                    .unwrap_or(false),
            })
            .collect()
    }

    pub(super) fn sources(&self) -> Vec<Source> {
        self.managed
            .iter()
            .map(|m| Source::Container {
                service: m.spec.service.clone(),
                container: m.current_id.clone(),
            })
            .collect()
    }

    /// The Docker connection, e.g. for the resource samplers.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}

/// Announces a step in the journal, when there is one.
fn step(journal: &mut Option<Journal>, text: String) -> anyhow::Result<()> {
    journal.as_mut().map_or(Ok(()), |j| j.step(text))
}

fn aside_name(name: &str) -> String {
    format!("{name}{ASIDE_SUFFIX}")
}

async fn resolve(docker: &Docker, spec: &ContainerSpec) -> anyhow::Result<String> {
    match &spec.selector {
        Selector::Name(name) => Ok(name.trim_start_matches('/').to_string()),
        Selector::ComposeService { service, project } => {
            let mut labels = vec![format!("{COMPOSE_SERVICE_LABEL}={service}")];
            labels.extend(
                project
                    .iter()
                    .map(|p| format!("{COMPOSE_PROJECT_LABEL}={p}")),
            );
            let filters = HashMap::from([("label", labels.clone())]);
            let options = ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build();
            let found = docker
                .list_containers(Some(options))
                .await
                .with_context(|| format!("listing containers of compose service '{service}'"))?;
            let (aside, names): (Vec<String>, Vec<String>) = found
                .iter()
                .filter_map(|c| c.names.as_ref()?.first().cloned())
                .map(|n| n.trim_start_matches('/').to_string())
                .partition(|n| n.ends_with(ASIDE_SUFFIX));
            match names.as_slice() {
                // A run died after setting the original aside and before creating its mode
                // container: the original is the one to adopt, under its own name.
                [] if aside.len() == 1 => Ok(aside[0].trim_end_matches(ASIDE_SUFFIX).to_string()),
                [one] => Ok(one.clone()),
                [] => anyhow::bail!(
                    "service '{}': no container has the label(s) {} (is the compose stack up?)",
                    spec.service,
                    labels.join(", ")
                ),
                many => anyhow::bail!(
                    "service '{}': several containers have the label(s) {} ({}); name one",
                    spec.service,
                    labels.join(", "),
                    many.join(", ")
                ),
            }
        }
    }
}

/// Takes charge of a container: normally the one under `name`; if an earlier run died before
/// restoring, the original is the one aside and `name` is a leftover mode container.
async fn adopt(docker: &Docker, spec: ContainerSpec, name: String) -> anyhow::Result<Managed> {
    let missing = || {
        format!(
            "service '{}': container '{name}' not found (`docker ps -a` lists the names)",
            spec.service
        )
    };
    let current = inspect(docker, &name).await.with_context(missing)?;
    // Named by ID (or a prefix of it): set aside and put back under its real name, not the ID.
    let name = current
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .map_or(name.clone(), |n| n.trim_start_matches('/').to_string());
    if let Some(mut original) = inspect(docker, &aside_name(&name)).await.ok().flatten() {
        // It was stopped when set aside; whether it ran before is lost with the dead run. A
        // container a run switched modes on was serving, so it is started again on restore.
        if let Some(state) = original.state.as_mut() {
            state.running = Some(true);
        }
        let current = current.filter(has_mode_label);
        let current_id = match current {
            Some(c) => c.id.context("container without ID")?,
            None => String::new(),
        };
        return Ok(Managed {
            spec,
            name,
            original,
            aside: true,
            current_id,
        });
    }
    let original = current.with_context(missing)?;
    if has_mode_label(&original) {
        anyhow::bail!(
            "container '{name}' was created by tracebench (label {MODE_LABEL}) and its original \
             is gone: name the user's container instead"
        );
    }
    Ok(Managed {
        spec,
        current_id: original.id.clone().context("container without ID")?,
        name,
        original,
        aside: false,
    })
}

fn has_mode_label(c: &ContainerInspectResponse) -> bool {
    c.config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .is_some_and(|l| l.contains_key(MODE_LABEL))
}

/// `Ok(None)` when no such container; an error for anything else (daemon unreachable...).
async fn inspect(docker: &Docker, name: &str) -> anyhow::Result<Option<ContainerInspectResponse>> {
    match docker.inspect_container(name, None).await {
        Ok(found) => Ok(Some(found)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(err) => Err(anyhow::anyhow!("inspecting container '{name}': {err}")),
    }
}

async fn stop(docker: &Docker, name: &str) -> anyhow::Result<()> {
    let options = StopContainerOptionsBuilder::new().t(10).build();
    match docker.stop_container(name, Some(options)).await {
        // 304: already stopped; 404: already gone.
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304 | 404,
            ..
        }) => Ok(()),
        Err(err) => Err(anyhow::anyhow!("stopping container '{name}': {err}")),
    }
}

async fn rename(docker: &Docker, from: &str, to: &str) -> anyhow::Result<()> {
    let options = RenameContainerOptionsBuilder::new().name(to).build();
    docker
        .rename_container(from, options)
        .await
        .with_context(|| format!("renaming container '{from}' to '{to}'"))
}

/// Stops (gracefully) and removes a container tracebench created (with its anonymous volumes),
/// if `id` is one (empty, gone or not labelled by tracebench: nothing to do). True when removed.
async fn remove_mode_container(
    docker: &Docker,
    id: &str,
    journal: &mut Option<Journal>,
) -> anyhow::Result<bool> {
    if id.is_empty() {
        return Ok(false);
    }
    match inspect(docker, id).await? {
        Some(found) if has_mode_label(&found) => {}
        _ => return Ok(false),
    }
    // SIGTERM first (the services flush their spans on it); removing alone would SIGKILL.
    step(journal, format!("stop {id}"))?;
    stop(docker, id).await?;
    step(journal, format!("remove {id}"))?;
    match remove(docker, id).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(true),
        Err(err) => Err(anyhow::anyhow!(
            "removing tracebench's container {id}: {err}"
        )),
    }
}

/// Removes a container tracebench created, with its anonymous volumes.
async fn remove(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    docker.remove_container(id, Some(options)).await
}

async fn create_mode_container(
    docker: &Docker,
    m: &Managed,
    mode: &ModeEnv,
    run_label: &str,
    journal: &mut Option<Journal>,
) -> anyhow::Result<String> {
    let endpoints = endpoints(&m.original);
    let mut overrides = m.spec.env.clone();
    overrides.extend(mode.for_service(&m.spec.service));
    let image = match mode.runs.get(&m.spec.service) {
        Some(ServiceRuns::Image(image)) => Some(image.as_str()),
        _ => None,
    };
    let body = mode_config(
        &m.original,
        (&overrides, image),
        &mode.mode,
        run_label,
        endpoints.first(),
    );
    let options = CreateContainerOptionsBuilder::new().name(&m.name).build();
    step(journal, format!("create {} for mode {}", m.name, mode.mode))?;
    let id = docker
        .create_container(Some(options), body)
        .await
        .with_context(|| format!("creating container '{}' for mode '{}'", m.name, mode.mode))?
        .id;
    let started = async || {
        for (network, settings) in endpoints.into_iter().skip(1) {
            step(journal, format!("connect {} to {network}", m.name))?;
            let request = NetworkConnectRequest {
                container: id.clone(),
                endpoint_config: Some(settings),
            };
            docker
                .connect_network(&network, request)
                .await
                .with_context(|| format!("connecting '{}' to network '{network}'", m.name))?;
        }
        step(journal, format!("start {} in mode {}", m.name, mode.mode))?;
        docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("starting container '{}' in mode '{}'", m.name, mode.mode))
    };
    if let Err(err) = started().await {
        // Free the name so restore can give it back to the original (restore would remove it
        // by its label anyway).
        let _ = remove(docker, &id).await;
        return Err(err);
    }
    Ok(id)
}
