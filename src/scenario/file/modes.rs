//! `[modes]`: tracing configurations as environment overrides, with the sampling ratio each
//! implies (derived from the standard OTel variables so the expected trace volume needs no second
//! source of truth).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checked, env, issue};
use crate::results::ModeInfo;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ModesFile {
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
    pub(super) fn validate(self) -> Checked<(Vec<ModeInfo>, String)> {
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
            super::variants::check_name(&format!("{key}.name"), &m.name, "mode")?;
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
    pub(super) fn validate(self, key: &str) -> Checked<ModeInfo> {
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
