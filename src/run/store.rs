//! The trace store of a run: the in-process sink or a Tempo, reached through the one Tempo client
//! either way; after the last cell, traces counted per cell window and the probes checked.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::exit::UsageError;
use crate::results::{CellResult, CellTraces, MinuteCount, ProbeResults, TraceResults};
use crate::scenario::{RequestKind, Scenario, TraceStore};
use crate::traces::count::{CountMethod, CountRequest, count_traces};
use crate::traces::sink::{Sink, SinkConfig};
use crate::traces::tempo::TempoClient;
use crate::traces::verify::{self, Outcome, VerifyRequest};

/// Counting step: traces per minute, as the report shows them.
const STEP_S: u64 = 60;
/// How long the probes' traces may take to become queryable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The sink counts as idle after this long without a span ([`Store::settle`]).
const QUIET: Duration = Duration::from_millis(300);
/// The longest [`Store::settle`] waits for the sink to go idle.
const QUIET_MAX: Duration = Duration::from_secs(10);

/// The store, open for the run.
pub struct Store {
    /// `None` when the store is unreachable and not required: trace figures are skipped.
    client: Option<TempoClient>,
    sink: Option<Sink>,
    /// `built-in sink` or `tempo URL`, for the report.
    pub label: String,
}

impl Store {
    /// Starts the sink, or checks that Tempo answers `/ready`. An unreachable Tempo is an error
    /// when the scenario requires it, else a warning (returned) and no trace figures.
    pub async fn open(scenario: &Scenario) -> Result<(Store, Option<String>)> {
        match &scenario.traces.store {
            TraceStore::Sink {
                otlp_grpc,
                otlp_http,
                api,
            } => {
                let sink = Sink::start(SinkConfig {
                    otlp_grpc: *otlp_grpc,
                    otlp_http: *otlp_http,
                    api: *api,
                    ..SinkConfig::default()
                })
                .await
                .context("starting the built-in trace sink")?;
                let client = TempoClient::new(&sink.addrs().api_url())?;
                Ok((
                    Store {
                        client: Some(client),
                        sink: Some(sink),
                        label: "built-in sink".into(),
                    },
                    None,
                ))
            }
            TraceStore::Tempo {
                url,
                tenant,
                token_env,
            } => {
                let mut client = TempoClient::new(url)?;
                if let Some(tenant) = tenant {
                    client = client.with_tenant(tenant.clone());
                }
                if let Some(name) = token_env {
                    let token = std::env::var(name).map_err(|_| {
                        UsageError(format!(
                            "traces.tempo.token_env names {name}, which is not set: expected \
                             it to hold the bearer token for {url}"
                        ))
                    })?;
                    client = client.with_bearer_token(&token);
                }
                let label = format!("tempo {url}");
                match client.ready().await {
                    Ok(()) => Ok((
                        Store {
                            client: Some(client),
                            sink: None,
                            label,
                        },
                        None,
                    )),
                    Err(err) if scenario.traces.required => Err(anyhow::Error::new(err).context(
                        format!("the trace store {url} is not ready (traces.required)"),
                    )),
                    Err(err) => {
                        let warning = format!(
                            "the trace store {url} is not ready ({err}): trace counts and probes skipped"
                        );
                        Ok((
                            Store {
                                client: None,
                                sink: None,
                                label,
                            },
                            Some(warning),
                        ))
                    }
                }
            }
        }
    }

    pub fn available(&self) -> bool {
        self.client.is_some()
    }

    /// Waits until the built-in sink has received no span for [`QUIET`] (at most [`QUIET_MAX`]),
    /// so that the spans a previous cell's services exported are ingested before the next cell
    /// warms up. Tempo's ingestion cannot be observed from outside: there the previous services
    /// having exited (flushing their spans) and the pause after each window are all there is.
    pub async fn settle(&self) {
        let Some(sink) = &self.sink else { return };
        let deadline = tokio::time::Instant::now() + QUIET_MAX;
        let mut last = sink.store().stats().received_spans;
        let mut quiet_since = tokio::time::Instant::now();
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = sink.store().stats().received_spans;
            if now != last {
                last = now;
                quiet_since = tokio::time::Instant::now();
            } else if quiet_since.elapsed() >= QUIET {
                return;
            }
        }
    }

    /// Traces rooted at the counted service(s) in each cell's window. The window runs from the
    /// whole second holding its start to the whole second after its end (see `cell`: no other
    /// load reaches the services in between).
    pub async fn count(&self, scenario: &Scenario, cells: &[CellResult]) -> Result<TraceResults> {
        let client = self.client.as_ref().context("no trace store")?;
        let services = counted_services(scenario);
        let max_rate = scenario.load.rates.iter().copied().fold(0.0, f64::max);
        let mut out = Vec::new();
        let mut method = CountMethod::Auto;
        for cell in cells {
            let start_s = u64::try_from(cell.window_start_unix_ms / 1000).unwrap_or(0);
            let end_s = u64::try_from(cell.window_end_unix_ms / 1000).unwrap_or(0) + 1;
            let request = CountRequest {
                services: services.clone(),
                start_s,
                end_s,
                step_s: STEP_S,
                search_limit: (2.0 * max_rate).max(1000.0) as usize,
                method,
            };
            let counts = count_traces(client, &request)
                .await
                .with_context(|| format!("counting the traces of cell {}", cell.order + 1))?;
            // Once the server showed which way works, ask every other window the same way.
            method = counts.method;
            for service in counts.services {
                out.push(CellTraces {
                    mode: cell.mode.clone(),
                    rate: cell.rate,
                    round: cell.round,
                    replicate: cell.replicate,
                    service: service.service,
                    observed: service.total,
                    per_minute: service
                        .per_step
                        .iter()
                        .enumerate()
                        .map(|(i, &count)| MinuteCount {
                            start_unix_s: (start_s + i as u64 * STEP_S) as i64,
                            count,
                        })
                        .collect(),
                });
            }
        }
        Ok(TraceResults {
            store: self.label.clone(),
            method: match method {
                CountMethod::Metrics => "traceql count_over_time".into(),
                _ => "search over time slices".into(),
            },
            cells: out,
            store_dropped_spans: self.sink.as_ref().map(|s| s.store().stats().evicted_spans),
        })
    }

    /// Probe requests with known sampled trace IDs, looked up in the store. `None` when the
    /// scenario asks for none, the request is not HTTP, or no services are named.
    pub async fn probe(&self, scenario: &Scenario) -> Result<Option<ProbeResults>> {
        let client = self.client.as_ref().context("no trace store")?;
        let RequestKind::Http { url, .. } = &scenario.request.kind else {
            return Ok(None);
        };
        if scenario.traces.probes == 0 || scenario.traces.services.is_empty() {
            return Ok(None);
        }
        let uri: http::Uri = url.parse().context("request.url")?;
        let gateway = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        );
        let request = VerifyRequest {
            gateway,
            path: uri.path().to_string(),
            services: scenario.traces.services.clone(),
            probes: scenario.traces.probes as usize,
            timeout: PROBE_TIMEOUT,
            poll_interval: Duration::from_millis(250),
        };
        let report = verify::verify(client, &request).await?;
        Ok(Some(ProbeResults {
            sent: report.probes as u64,
            found: report.found as u64,
            missing: report.missing as u64,
            broken: (report.broken + report.failed_requests) as u64,
            ingestion_delay_p50_ms: report.delay_p50_ms,
            ingestion_delay_max_ms: report.delay_max_ms,
            problems: report
                .results
                .iter()
                .filter(|r| r.outcome != Outcome::Found)
                .map(|r| format!("{}: {:?}: {}", r.trace_id, r.outcome, r.detail))
                .collect(),
        }))
    }

    /// Stops the sink, if any.
    pub async fn close(self) {
        if let Some(sink) = self.sink {
            sink.stop().await;
        }
    }
}

/// The services whose root spans are counted: the scenario's root service, else every service
/// every trace must contain.
fn counted_services(scenario: &Scenario) -> Vec<String> {
    match &scenario.traces.root_service {
        Some(root) => vec![root.clone()],
        None => scenario.traces.services.clone(),
    }
}
