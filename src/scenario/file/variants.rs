//! `[[variants]]`: two or more builds measured in one run, crossed with the modes. Each variant
//! may replace, per service, what runs (a process service's `command`, a docker service's
//! `image`) and add environment: to every service (`env`) and to one (`services.NAME.env`),
//! both under the mode's overrides. The first variant is the base the others are held to.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Checked, env, issue};
use crate::scenario::{ServiceRuns, TargetConfig, Variant, VariantService};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariantFile {
    name: String,
    env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    services: BTreeMap<String, VariantServiceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantServiceFile {
    command: Option<Vec<String>>,
    image: Option<String>,
    env: Option<BTreeMap<String, String>>,
}

/// Checks the variants against the target they vary: names, services, and the key each kind
/// of service takes.
pub(super) fn validate(
    files: Vec<VariantFile>,
    target: &TargetConfig,
    dir: &Path,
) -> Checked<Vec<Variant>> {
    if !files.is_empty() && matches!(target, TargetConfig::External { .. }) {
        return Err(issue(
            "variants",
            "an external target is restarted by hand: tracebench cannot switch its build",
        ));
    }
    if files.len() == 1 {
        return Err(issue(
            "variants",
            "expected at least two [[variants]] (a base and a candidate), or none",
        ));
    }
    let mut out: Vec<Variant> = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        let key = format!("variants[{i}]");
        check_name(&format!("{key}.name"), &f.name, "variant")?;
        if out.iter().any(|v| v.name == f.name) {
            return Err(issue(
                format!("{key}.name"),
                format!("duplicate variant name {:?}", f.name),
            ));
        }
        let mut services = BTreeMap::new();
        for (service, s) in f.services {
            let key = format!("{key}.services.{service}");
            services.insert(service.clone(), s.validate(&key, &service, target, dir)?);
        }
        out.push(Variant {
            env: env(&format!("{key}.env"), f.env)?,
            name: f.name,
            services,
        });
    }
    Ok(out)
}

/// A mode or variant name: non-empty and without `/` (it joins them: `candidate/on`).
pub(super) fn check_name(key: &str, name: &str, what: &str) -> Checked<()> {
    if name.trim().is_empty() || name.contains('/') {
        return Err(issue(
            key,
            format!("expected a non-empty {what} name without `/`, got {name:?}"),
        ));
    }
    Ok(())
}

impl VariantServiceFile {
    fn validate(
        self,
        key: &str,
        service: &str,
        target: &TargetConfig,
        dir: &Path,
    ) -> Checked<VariantService> {
        let runs = match target {
            TargetConfig::Process { services, .. } => {
                let Some(s) = services.iter().find(|s| s.name == service) else {
                    return Err(unknown(key, service, target));
                };
                if self.image.is_some() {
                    return Err(issue(
                        format!("{key}.image"),
                        "a process service runs a `command`, not an image",
                    ));
                }
                match &self.command {
                    Some(argv) => Some(ServiceRuns::Command(super::target::command(
                        &format!("{key}.command"),
                        argv,
                        dir,
                        &s.command.cwd,
                    )?)),
                    None => None,
                }
            }
            TargetConfig::Docker { services, .. } => {
                if !services.iter().any(|s| s.name == service) {
                    return Err(unknown(key, service, target));
                }
                if self.command.is_some() {
                    return Err(issue(
                        format!("{key}.command"),
                        "a docker service runs an `image`, not a command",
                    ));
                }
                match self.image {
                    Some(image) if image.trim().is_empty() => {
                        return Err(issue(format!("{key}.image"), "expected an image reference"));
                    }
                    image => image.map(ServiceRuns::Image),
                }
            }
            TargetConfig::External { .. } => return Err(unknown(key, service, target)),
        };
        Ok(VariantService {
            runs,
            env: env(&format!("{key}.env"), self.env)?,
        })
    }
}

fn unknown(key: &str, service: &str, target: &TargetConfig) -> super::Issue {
    issue(
        key,
        format!(
            "no service {service:?} in [[target.services]] (expected one of {})",
            target.service_names().join(", ")
        ),
    )
}
