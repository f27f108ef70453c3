//! The scenario file as serde reads it, and its validation into [`Scenario`]. Every struct denies
//! unknown keys; every semantic check reports the dotted key it failed on, which `Located` turns
//! into a line. Defaults live next to the keys they belong to; one submodule per table, with
//! `[load]` and `[budgets]` (plain numbers) and the value checks they all share here.

mod modes;
mod request;
mod target;
mod traces;
mod variants;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::locate::Located;
use super::{Load, Scenario, ScenarioError};
use crate::results::{Budgets, ModeInfo};
use modes::ModesFile;
use request::RequestFile;
use target::TargetFile;
use traces::TracesFile;
use variants::VariantFile;

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
        let span = e.span().unwrap_or(0..text.len());
        // toml reports a missing top-level table at 0..0 (the document): inside no key.
        let whole = span.start == 0 && (span.is_empty() || span.end >= text.len());
        ScenarioError {
            file: file_name.clone(),
            line: Some(located.line_of(span.start)),
            key: if whole {
                String::new()
            } else {
                located.path_at(span.start)
            },
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
    #[serde(default)]
    variants: Vec<VariantFile>,
}

impl ScenarioFile {
    fn validate(self, path: &Path) -> Checked<Scenario> {
        let name = match self.name {
            Some(n) if n.trim().is_empty() || n.contains(['/', '\\']) => {
                return Err(issue(
                    "name",
                    format!(
                        "expected a non-empty name without `/` (it names the run directory), got {n:?}"
                    ),
                ));
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
        let target = self.target.validate(&dir)?;
        let variants = variants::validate(self.variants, &target, &dir)?;
        Ok(Scenario {
            name,
            description: self.description,
            path: path.to_path_buf(),
            target,
            request: self.request.validate()?,
            modes: cross(&variants, modes),
            baseline,
            variants,
            load: self.load.validate()?,
            traces,
            budgets: self.budgets.validate()?,
        })
    }
}

/// Every variant crossed with every mode, variant by variant: `VARIANT/MODE` (the variant's own
/// environment is applied per service when a cell starts). The modes as they are without
/// variants.
fn cross(variants: &[super::Variant], modes: Vec<ModeInfo>) -> Vec<ModeInfo> {
    if variants.is_empty() {
        return modes;
    }
    variants
        .iter()
        .flat_map(|v| {
            modes.iter().map(|m| ModeInfo {
                name: format!("{}/{}", v.name, m.name),
                ..m.clone()
            })
        })
        .collect()
}

// ---- [load] ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    rates: Vec<f64>,
    #[serde(default = "secs::<2>", deserialize_with = "duration")]
    warmup: Duration,
    #[serde(default = "secs::<5>", deserialize_with = "duration")]
    duration: Duration,
    #[serde(default = "rounds")]
    rounds: u32,
    /// Default: `rounds` (a fixed run).
    #[serde(default)]
    max_rounds: Option<u32>,
    #[serde(default, deserialize_with = "some_duration")]
    max_duration: Option<Duration>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default = "secs::<1>", deserialize_with = "duration")]
    settle: Duration,
    #[serde(default = "secs::<5>", deserialize_with = "duration")]
    ingestion_wait: Duration,
}

/// Eight short rounds rather than a few long ones: the intervals rest on the rounds (restarts),
/// and eight is a whole number of balanced squares for the default three modes plus the A/A pair.
fn rounds() -> u32 {
    8
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
            if let Err(expected) = crate::load::check_rate(r) {
                return Err(issue(format!("load.rates[{i}]"), expected));
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
        let max_rounds = self.max_rounds.unwrap_or(self.rounds);
        if max_rounds < self.rounds {
            return Err(issue(
                "load.max_rounds",
                format!(
                    "expected at least load.rounds ({}), the rounds before the first look; got {max_rounds}",
                    self.rounds
                ),
            ));
        }
        if let Some(d) = self.max_duration {
            positive("load.max_duration", d)?;
        }
        Ok(Load {
            rates: self.rates,
            warmup: self.warmup,
            duration: self.duration,
            rounds: self.rounds,
            max_rounds,
            max_duration: self.max_duration,
            seed: self.seed,
            settle: self.settle,
            ingestion_wait: self.ingestion_wait,
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
    errors_pp: f64,
    incomplete_traces_pct: f64,
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
            errors_pp: 0.1,
            incomplete_traces_pct: 0.0,
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
        at_least_zero("budgets.errors_pp", self.errors_pp, "percentage points")?;
        at_least_zero(
            "budgets.incomplete_traces_pct",
            self.incomplete_traces_pct,
            "% of counted traces",
        )?;
        Ok(Budgets {
            incomplete_traces_pct: Some(self.incomplete_traces_pct),
            errors_pp: Some(self.errors_pp),
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

// ---- value checks shared by every table ----
/// An environment table: names non-empty and without `=`.
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
            crate::load::parse_duration(s).map_err(E::custom)
        }
    }
    d.deserialize_str(Humantime)
}

/// [`duration`] for a key whose absence means none.
fn some_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// Hosts the project may send traffic to.
fn is_loopback_host(host: &str) -> bool {
    matches!(
        host.trim_start_matches('[').trim_end_matches(']'),
        "127.0.0.1" | "::1" | "localhost"
    )
}

/// An http URL with a host; when `loopback`, the host must be 127.0.0.1, ::1 or localhost.
/// https is refused here, not half-served later: neither the driver nor the Tempo client
/// speaks TLS yet, and plain HTTP to port 443 would measure nothing real.
fn check_url(key: &str, url: &str, loopback: bool) -> Checked<http::Uri> {
    let shown = crate::traces::tempo::redact_userinfo(url);
    let expected = || issue(key, format!("expected an http:// URL, got {shown:?}"));
    let uri: http::Uri = url.parse().map_err(|_| expected())?;
    if uri.scheme_str() == Some("https") {
        return Err(issue(
            key,
            format!("got {shown:?}: https is not supported yet (no TLS); expected an http:// URL"),
        ));
    }
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(expected());
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
    Ok(uri)
}

/// A URL tracebench sends traffic to: http on a loopback host.
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
