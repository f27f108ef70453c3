//! `[target]`: the services and how each kind of target finds them. Keys of another kind of
//! target are rejected by name rather than ignored, since a docker `command` would silently do nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Checked, duration, env, http_url, issue, loopback_addr, positive, secs};
use crate::scenario::{
    CommandLine, ContainerRef, DockerService, ExternalService, ProcessService, ReadyCheck,
    TargetConfig,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetFile {
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
    pub(super) fn validate(self, dir: &Path) -> Checked<TargetConfig> {
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
            TargetKind::Process => TargetConfig::Process {
                services: services
                    .map(|(i, s)| each(i, s)?.process(&format!("target.services[{i}]"), dir))
                    .collect::<Checked<_>>()?,
                ready_timeout,
            },
            TargetKind::Docker => TargetConfig::Docker {
                services: services
                    .map(|(i, s)| each(i, s)?.docker(&format!("target.services[{i}]")))
                    .collect::<Checked<_>>()?,
                ready_timeout,
            },
            TargetKind::External => TargetConfig::External {
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
            (Some(_), Some(_)) => {
                return Err(issue(
                    format!("{key}.compose_service"),
                    "expected either `container` or `compose_service`, not both",
                ));
            }
            (Some(_), None) if self.compose_project.is_some() => {
                return Err(issue(
                    format!("{key}.compose_project"),
                    "goes with `compose_service`; a `container` is found by its name alone",
                ));
            }
            (Some(name), None) => ContainerRef::Name(name.clone()),
            (None, Some(service)) => ContainerRef::Compose {
                service: service.clone(),
                project: self.compose_project.clone(),
            },
            (None, None) => {
                return Err(issue(
                    format!("{key}.name"),
                    "expected `container` (a container name) or `compose_service` (a compose service label) beside the name",
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
        if self.pids.is_some() && self.container.is_some() {
            return Err(issue(
                format!("{key}.container"),
                "expected `pids` (local processes) or `container`, not both: a service's CPU and \
                 memory come from one source",
            ));
        }
        Ok(ExternalService {
            ready: self.ready(key)?,
            name: self.name,
            pids: self.pids.unwrap_or_default(),
            container: self.container,
        })
    }
}

/// A command line; a program given as a path is resolved against the scenario's directory.
pub(super) fn command(key: &str, argv: &[String], dir: &Path, cwd: &Path) -> Checked<CommandLine> {
    match argv.split_first() {
        Some((program, args)) if !program.trim().is_empty() => Ok(CommandLine {
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
