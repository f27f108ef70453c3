//! Waiting for a mode container to be ready: its healthcheck, then the scenario's check, failing
//! early (with the container's last log lines) when it stops or restarts.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;

use super::Managed;
use crate::control::NotReady;
use crate::control::ready::{Check, poll};

const LOG_TAIL_LINES: &str = "20";

/// Waits for the container's healthcheck (if it has one) and then the spec's readiness check,
/// failing early when the container stops.
pub(super) async fn wait_ready(
    docker: &Docker,
    m: &Managed,
    timeout: Duration,
) -> anyhow::Result<()> {
    let has_healthcheck = m
        .original
        .config
        .as_ref()
        .and_then(|c| c.healthcheck.as_ref())
        .and_then(|h| h.test.as_ref())
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"));
    let id = m.current_id.as_str();
    let alive = async || -> Result<ContainerInspectResponse, String> {
        let found = docker
            .inspect_container(id, None)
            .await
            .map_err(|e| format!("cannot inspect it: {e}"))?;
        let state = found.state.clone().unwrap_or_default();
        // A restart policy brings a crashing container back: one restart is already a crash.
        let restarted = state.restarting == Some(true) || found.restart_count.unwrap_or(0) > 0;
        if state.running != Some(true) || restarted {
            return Err(format!(
                "its container stopped (exit code {}{})",
                state.exit_code.unwrap_or_default(),
                if restarted {
                    ", restarted by its restart policy"
                } else {
                    ""
                }
            ));
        }
        Ok(found)
    };
    let started = std::time::Instant::now();
    let healthy = poll(timeout, async || {
        let found = alive().await.map_err(Check::Dead)?;
        let status = found.state.and_then(|s| s.health).and_then(|h| h.status);
        match status {
            _ if !has_healthcheck => Ok(()),
            Some(HealthStatusEnum::HEALTHY) => Ok(()),
            other => Err(Check::NotYet(format!("healthcheck status {other:?}"))),
        }
    })
    .await;
    let left = timeout.saturating_sub(started.elapsed());
    let result = match healthy {
        Ok(()) => {
            m.spec
                .readiness
                .wait(left, async || alive().await.map(drop))
                .await
        }
        Err(reason) => Err(reason),
    };
    match result {
        Ok(()) => Ok(()),
        Err(reason) => Err(NotReady {
            service: m.spec.service.clone(),
            reason,
            log_tail: logs_tail(docker, id).await,
        }
        .into()),
    }
}

async fn logs_tail(docker: &Docker, id: &str) -> Vec<String> {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(LOG_TAIL_LINES)
        .build();
    let chunks: Vec<_> = docker.logs(id, Some(options)).collect().await;
    chunks
        .into_iter()
        .filter_map(Result::ok)
        .map(|chunk| chunk.to_string())
        .collect::<String>()
        .lines()
        .map(str::to_string)
        .collect()
}
