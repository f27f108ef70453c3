//! The configuration of a mode container: the original's inspected configuration with the mode's
//! environment overrides, and the network endpoints to recreate.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkingConfig,
};

use super::{MODE_LABEL, RUN_LABEL};

/// The original's environment with the overrides applied (replacing a variable in place, or added
/// at the end), keeping its order otherwise.
pub fn merge_env(original: &[String], overrides: &BTreeMap<String, String>) -> Vec<String> {
    let mut env: Vec<String> = original
        .iter()
        .map(|entry| {
            let key = entry.split('=').next().unwrap_or(entry);
            match overrides.get(key) {
                Some(value) => format!("{key}={value}"),
                None => entry.clone(),
            }
        })
        .collect();
    for (key, value) in overrides {
        if !original
            .iter()
            .any(|e| e.split('=').next() == Some(key.as_str()))
        {
            env.push(format!("{key}={value}"));
        }
    }
    env
}

/// Network endpoints to recreate: the inspected ones, without the per-container details the daemon
/// assigns (IDs, addresses) and without the alias docker adds for the old container's short ID.
pub(super) fn endpoints(original: &ContainerInspectResponse) -> Vec<(String, EndpointSettings)> {
    let short_id: String = original
        .id
        .clone()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    let networks = original
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default();
    let mut endpoints: Vec<(String, EndpointSettings)> = networks
        .into_iter()
        .map(|(network, e)| {
            let aliases = e.aliases.map(|a| {
                a.into_iter()
                    .filter(|alias| *alias != short_id)
                    .collect::<Vec<_>>()
            });
            let settings = EndpointSettings {
                ipam_config: e.ipam_config,
                links: e.links,
                aliases,
                driver_opts: e.driver_opts,
                ..Default::default()
            };
            (network, settings)
        })
        .collect();
    // The network the container was created on first, as `NetworkMode` names it.
    let primary = original
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    endpoints.sort_by_key(|(network, _)| (*network != primary, network.clone()));
    endpoints
}

pub(super) fn mode_config(
    original: &ContainerInspectResponse,
    (overrides, image): (&BTreeMap<String, String>, Option<&str>),
    mode: &str,
    run_label: &str,
    primary: Option<&(String, EndpointSettings)>,
) -> ContainerCreateBody {
    let c = original.config.clone().unwrap_or_default();
    let mut labels = c.labels.unwrap_or_default();
    labels.insert(MODE_LABEL.to_string(), mode.to_string());
    labels.insert(RUN_LABEL.to_string(), run_label.to_string());
    ContainerCreateBody {
        hostname: c.hostname,
        domainname: c.domainname,
        user: c.user,
        attach_stdin: c.attach_stdin,
        attach_stdout: c.attach_stdout,
        attach_stderr: c.attach_stderr,
        exposed_ports: c.exposed_ports,
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: Some(merge_env(&c.env.unwrap_or_default(), overrides)),
        cmd: c.cmd,
        healthcheck: c.healthcheck,
        args_escaped: c.args_escaped,
        // A variant's image, else the image ID, not the tag: the same image even if the tag
        // has moved since.
        image: image
            .map(str::to_string)
            .or_else(|| original.image.clone())
            .or(c.image),
        volumes: c.volumes,
        working_dir: c.working_dir,
        entrypoint: c.entrypoint,
        network_disabled: c.network_disabled,
        on_build: c.on_build,
        labels: Some(labels),
        stop_signal: c.stop_signal,
        stop_timeout: c.stop_timeout,
        shell: c.shell,
        host_config: original.host_config.clone(),
        networking_config: primary.map(|(network, settings)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.clone(), settings.clone())])),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_in_place_and_new_ones_are_appended() {
        let original = [
            "PATH=/bin".to_string(),
            "OTEL_TRACES_SAMPLER=always_on".to_string(),
        ];
        let overrides = BTreeMap::from([
            ("OTEL_TRACES_SAMPLER".to_string(), "always_off".to_string()),
            ("OTEL_SDK_DISABLED".to_string(), "true".to_string()),
        ]);
        assert_eq!(
            merge_env(&original, &overrides),
            [
                "PATH=/bin",
                "OTEL_TRACES_SAMPLER=always_off",
                "OTEL_SDK_DISABLED=true"
            ]
        );
    }
}
