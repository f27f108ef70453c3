//! `[traces]`: the trace store (built-in sink or Tempo) and what a complete trace must contain.

use serde::Deserialize;

use super::{Checked, check_url, issue, loopback_addr};
use crate::scenario::{TraceStore, TracesConfig};
use crate::traces::link::TraceLink;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TracesFile {
    #[serde(default)]
    store: StoreKind,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default = "yes")]
    count: bool,
    #[serde(default = "probes")]
    probes: u32,
    #[serde(default)]
    services: Vec<String>,
    root_service: Option<String>,
    #[serde(default = "slowest")]
    slowest: usize,
    link: Option<String>,
    sink: Option<SinkFile>,
    tempo: Option<TempoFile>,
}

impl Default for TracesFile {
    fn default() -> Self {
        TracesFile {
            store: StoreKind::Sink,
            required: true,
            count: true,
            probes: probes(),
            services: Vec::new(),
            root_service: None,
            slowest: slowest(),
            link: None,
            sink: None,
            tempo: None,
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum StoreKind {
    #[default]
    Sink,
    Tempo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkFile {
    #[serde(default = "otlp_grpc")]
    otlp_grpc: String,
    #[serde(default = "otlp_http")]
    otlp_http: String,
    #[serde(default = "api")]
    api: String,
}

impl Default for SinkFile {
    fn default() -> Self {
        SinkFile {
            otlp_grpc: otlp_grpc(),
            otlp_http: otlp_http(),
            api: api(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TempoFile {
    url: String,
    tenant: Option<String>,
    token_env: Option<String>,
}

fn yes() -> bool {
    true
}
fn probes() -> u32 {
    5
}
fn slowest() -> usize {
    crate::load::DEFAULT_SLOWEST
}
/// Most slow requests a cell keeps: each is looked up in the store after the cell.
const MOST_SLOWEST: usize = 100;
fn otlp_grpc() -> String {
    "127.0.0.1:14317".to_string()
}
fn otlp_http() -> String {
    "127.0.0.1:14318".to_string()
}
fn api() -> String {
    "127.0.0.1:13200".to_string()
}

impl TracesFile {
    pub(super) fn validate(self) -> Checked<TracesConfig> {
        let store = match self.store {
            StoreKind::Sink => {
                if self.tempo.is_some() {
                    return Err(issue("traces.tempo", "only used with store = \"tempo\""));
                }
                let sink = self.sink.unwrap_or_default();
                let otlp_grpc = loopback_addr("traces.sink.otlp_grpc", &sink.otlp_grpc)?;
                let otlp_http = loopback_addr("traces.sink.otlp_http", &sink.otlp_http)?;
                let api = loopback_addr("traces.sink.api", &sink.api)?;
                if otlp_http.port() != 0 && otlp_http.port() == otlp_grpc.port() {
                    return Err(issue(
                        "traces.sink.otlp_http",
                        "expected a port other than otlp_grpc's",
                    ));
                }
                if api.port() != 0 && [otlp_grpc.port(), otlp_http.port()].contains(&api.port()) {
                    return Err(issue(
                        "traces.sink.api",
                        "expected a port other than the OTLP receivers'",
                    ));
                }
                TraceStore::Sink {
                    otlp_grpc,
                    otlp_http,
                    api,
                }
            }
            StoreKind::Tempo => {
                if self.sink.is_some() {
                    return Err(issue("traces.sink", "only used with store = \"sink\""));
                }
                let Some(tempo) = self.tempo else {
                    return Err(issue(
                        "traces.store",
                        "store = \"tempo\" expects a [traces.tempo] table with its `url`",
                    ));
                };
                let url = tempo.url.trim_end_matches('/').to_string();
                check_url("traces.tempo.url", &url, false)?;
                TraceStore::Tempo {
                    url,
                    tenant: tempo.tenant,
                    token_env: tempo.token_env,
                }
            }
        };
        for (i, s) in self.services.iter().enumerate() {
            if s.trim().is_empty() {
                return Err(issue(
                    format!("traces.services[{i}]"),
                    "expected a service name",
                ));
            }
            if self.services[..i].contains(s) {
                return Err(issue(
                    format!("traces.services[{i}]"),
                    format!("duplicate service {s:?}"),
                ));
            }
        }
        if let Some(root) = &self.root_service
            && !self.services.is_empty()
            && !self.services.contains(root)
        {
            return Err(issue(
                "traces.root_service",
                format!("expected one of traces.services, got {root:?}"),
            ));
        }
        if self.slowest > MOST_SLOWEST {
            return Err(issue(
                "traces.slowest",
                format!(
                    "expected at most {MOST_SLOWEST} requests, got {}",
                    self.slowest
                ),
            ));
        }
        let link = self
            .link
            .as_deref()
            .map(|l| TraceLink::parse(l).map_err(|m| issue("traces.link", m)))
            .transpose()?;
        Ok(TracesConfig {
            store,
            required: self.required,
            count: self.count,
            probes: self.probes,
            services: self.services,
            root_service: self.root_service,
            slowest: self.slowest,
            link,
        })
    }
}
