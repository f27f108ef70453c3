//! The trace store of a run: the in-process sink or a Tempo, reached through the one Tempo client
//! either way; traces counted per cell window as the run goes ([`Counter`]), and the probes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::error::UsageError;
use crate::load::TraceId;
use crate::results::{CellResult, ProbeResults};
use crate::scenario::{Endpoint, Scenario, TraceStore};
use crate::sink::{Sink, SinkConfig};
use crate::traces::count::{CountMethod, CountRequest, Server, ServiceCounts, count_on};
use crate::traces::link::{GRAFANA_EXPLORE, TraceLink};
use crate::traces::model::TraceResponse;
use crate::traces::tempo::{TempoClient, redact_userinfo};
use crate::traces::verify::{self, ProbeOutcome, VerifyRequest};

/// Counting step: traces per minute, as the report shows them.
pub(super) const STEP_S: u64 = 60;
/// How long the probes' traces may take to become queryable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The sink counts as idle after this long without a span ([`TraceBackend::settle`]).
const QUIET: Duration = Duration::from_millis(300);
/// The longest [`TraceBackend::settle`] waits for the sink to go idle.
const QUIET_MAX: Duration = Duration::from_secs(10);

/// The store, open for the run.
pub struct TraceBackend {
    /// `None` when the store is unreachable and not required: trace figures are skipped.
    client: Option<TempoClient>,
    /// What the store is (its version decides how soon a window can be counted).
    pub(super) server: Server,
    pub(super) sink: Option<Sink>,
    /// `built-in sink` or `tempo URL`, for the report.
    pub label: String,
    /// Where the report links a trace.
    pub link: TraceLink,
}

impl TraceBackend {
    /// Starts the sink, or checks that Tempo answers `/ready`. An unreachable Tempo is an error
    /// when the scenario requires it, else a warning (returned) and no trace figures.
    pub async fn open(scenario: &Scenario) -> Result<(TraceBackend, Option<String>)> {
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
                let api = sink.addrs().api_url();
                let client = TempoClient::new(&api)?;
                let backend = TraceBackend {
                    client: Some(client),
                    server: Server::NotTempo,
                    sink: Some(sink),
                    label: "built-in sink".into(),
                    link: scenario.traces.link.clone().unwrap_or(TraceLink::api(&api)),
                };
                Ok((backend, None))
            }
            TraceStore::Tempo {
                url,
                tenant,
                token_env,
            } => {
                let client = tempo_client(url, tenant.as_deref(), token_env.as_deref())?;
                let link = scenario.traces.link.clone().unwrap_or_else(|| {
                    TraceLink::parse(GRAFANA_EXPLORE).expect("the default link names the trace")
                });
                Self::open_tempo(client, url, scenario.traces.required, link).await
            }
        }
    }

    /// Checks that Tempo answers `/ready` and which version it is; an error when `required`,
    /// else a backend without a client and the warning saying why.
    async fn open_tempo(
        client: TempoClient,
        url: &str,
        required: bool,
        link: TraceLink,
    ) -> Result<(TraceBackend, Option<String>)> {
        // Every message and file names the URL without its `user:password@`.
        let url = &redact_userinfo(url);
        let label = format!("tempo {url}");
        let ready = match client.ready().await {
            Ok(()) => Server::read(&client).await,
            Err(err) => Err(err),
        };
        match ready {
            Ok(server) => {
                let backend = TraceBackend {
                    client: Some(client),
                    server,
                    sink: None,
                    label,
                    link,
                };
                Ok((backend, None))
            }
            Err(err) if required => Err(anyhow::Error::new(err).context(format!(
                "the trace store {url} is not ready (traces.required)"
            ))),
            Err(err) => {
                let warning = format!(
                    "the trace store {url} is not ready ({err}): trace counts and probes skipped"
                );
                let backend = TraceBackend {
                    client: None,
                    server: Server::NotTempo,
                    sink: None,
                    label,
                    link,
                };
                Ok((backend, Some(warning)))
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

    /// Traces rooted at the counted service(s) that started in `[start_s, end_s)`, one count
    /// per minute from `start_s`, and how many of them are complete. Counted by search, exact on
    /// every Tempo version.
    pub(super) async fn count_window(
        &self,
        scenario: &Scenario,
        rate: f64,
        start_s: u64,
        end_s: u64,
    ) -> Result<Vec<ServiceCounts>> {
        let client = self.client.as_ref().context("no trace store")?;
        let request = CountRequest {
            services: counted_services(scenario),
            complete_with: scenario.traces.services.clone(),
            start_s,
            end_s,
            step_s: STEP_S,
            search_limit: search_limit(rate),
            method: CountMethod::Search,
        };
        Ok(count_on(client, &self.server, &request).await?.services)
    }

    /// Probe requests with known sampled trace IDs, looked up in the store. `None` when the
    /// scenario asks for none, the request is not HTTP, or no services are named.
    pub async fn probe(&self, scenario: &Scenario) -> Result<Option<ProbeResults>> {
        let client = self.client.as_ref().context("no trace store")?;
        let Endpoint::Http(http) = &scenario.request.endpoint else {
            return Ok(None);
        };
        if scenario.traces.probes == 0 || scenario.traces.services.is_empty() {
            return Ok(None);
        }
        let uri = &http.url;
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
                .filter(|r| r.outcome != ProbeOutcome::Found)
                .map(|r| format!("{}: {:?}: {}", r.trace_id, r.outcome, r.detail))
                .collect(),
        }))
    }

    /// The trace `id` as the store holds it now; `None` when it does not know it.
    pub(super) async fn trace(&self, id: TraceId) -> Result<Option<TraceResponse>> {
        let client = self.client.as_ref().context("no trace store")?;
        client
            .trace(&id.0)
            .await
            .with_context(|| format!("looking up trace {id}"))
    }

    /// Spans the built-in sink dropped to stay within its bound; `None` for Tempo.
    pub(super) fn dropped_spans(&self) -> Option<u64> {
        self.sink.as_ref().map(|s| s.store().stats().evicted_spans)
    }

    /// Stops the sink, if any.
    pub async fn close(self) {
        if let Some(sink) = self.sink {
            sink.stop().await;
        }
    }
}

/// A cell's counted seconds `[start_s, end_s)`: from the second holding its window's start to
/// the second after its end (see `cell`: no other load reaches the services in between).
pub(super) fn counted_window(cell: &CellResult) -> (u64, u64) {
    let second = |ms: i64| u64::try_from(ms / 1000).unwrap_or(0);
    (
        second(cell.window_start_unix_ms),
        second(cell.window_end_unix_ms) + 1,
    )
}

/// The services whose root spans are counted: the scenario's root service, else none, which
/// counts every trace once whatever its root.
fn counted_services(scenario: &Scenario) -> Vec<String> {
    scenario.traces.root_service.iter().cloned().collect()
}

/// Search answers hold at most this many traces per request: two seconds of traffic at `rate`
/// (at least 1,000). Slices are split until they fit, so answers stay a few MB: a limit sized to
/// a whole minute made one answer of 60,000 traces at 1,000 req/s, and the run's RSS reached
/// 700 MB while counting it.
fn search_limit(rate: f64) -> usize {
    ((2.0 * rate) as usize).max(1_000)
}

/// The current Unix second.
pub fn unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A Tempo client for `url`, with the tenant and the bearer token read from `token_env`.
fn tempo_client(url: &str, tenant: Option<&str>, token_env: Option<&str>) -> Result<TempoClient> {
    let mut client = TempoClient::new(url)?;
    if let Some(tenant) = tenant {
        client = client.with_tenant(tenant.to_string());
    }
    if let Some(name) = token_env {
        let token = std::env::var(name).map_err(|_| {
            UsageError(format!(
                "traces.tempo.token_env names {name}, which is not set: expected it to hold the \
                 bearer token for {}",
                redact_userinfo(url)
            ))
        })?;
        client = client.with_bearer_token(&token);
    }
    Ok(client)
}
