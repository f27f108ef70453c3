//! Putting containers back as they were before a run, from whatever state it left them in: the
//! same function serves the end of a run and the recovery of a dead one from its journal.

use std::collections::HashMap;

use anyhow::Context;
use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::{RUN_LABEL, inspect, remove_mode_container, rename, step};
use crate::control::journal::{Journal, Original};

/// Brings the containers back to `originals`, whatever state a run left them in: removes every
/// container labelled with `run_label` and any tracebench container holding an original's name
/// (left by a dead run without a journal), renames each original back to its name and starts it
/// if it was running before. Returns what it did, one line per action.
pub(in crate::control) async fn put_back(
    docker: &Docker,
    originals: &[Original],
    run_label: &str,
    journal: &mut Option<Journal>,
) -> anyhow::Result<Vec<String>> {
    let filters = HashMap::from([("label", vec![format!("{RUN_LABEL}={run_label}")])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let mut created: Vec<String> = docker
        .list_containers(Some(options))
        .await
        .context("listing the run's containers")?
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    for original in originals {
        if let Some(holder) = inspect(docker, &original.name).await?
            && holder.id.as_deref() != Some(original.id.as_str())
            && let Some(id) = holder.id
        {
            created.push(id);
        }
    }
    created.sort();
    created.dedup();
    let mut done = Vec::new();
    for id in created {
        if remove_mode_container(docker, &id, journal).await? {
            done.push(format!("removed tracebench's container {id}"));
        }
    }
    let mut failures = Vec::new();
    for original in originals {
        match put_back_original(docker, original, journal).await {
            Ok(actions) => done.extend(actions),
            Err(err) => failures.push(format!("{}: {err:#}", original.name)),
        }
    }
    if failures.is_empty() {
        Ok(done)
    } else {
        anyhow::bail!("could not restore container(s): {}", failures.join("; "))
    }
}

/// Renames one original back to its name and starts it if it was running before the run.
async fn put_back_original(
    docker: &Docker,
    original: &Original,
    journal: &mut Option<Journal>,
) -> anyhow::Result<Vec<String>> {
    let found = inspect(docker, &original.id).await?.with_context(|| {
        format!(
            "the original container {} is gone: it cannot be brought back",
            original.id
        )
    })?;
    let mut done = Vec::new();
    let name = found.name.as_deref().unwrap_or_default();
    let name = name.trim_start_matches('/');
    if name != original.name {
        step(journal, format!("rename {name} to {}", original.name))?;
        rename(docker, &original.id, &original.name).await?;
        done.push(format!("renamed {name} back to {}", original.name));
    }
    let running = found.state.and_then(|s| s.running).unwrap_or(false);
    if original.running && !running {
        step(journal, format!("start {}", original.name))?;
        docker
            .start_container(&original.id, None)
            .await
            .with_context(|| format!("starting the original container '{}'", original.name))?;
        done.push(format!("started {}", original.name));
    }
    Ok(done)
}
