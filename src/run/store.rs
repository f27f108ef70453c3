//! The trace store of a run: the in-process sink or a Tempo, reached through the one Tempo client
//! either way; traces counted per cell window as the run goes ([`Counter`]), and the probes.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::exit::UsageError;
use crate::results::{CellResult, CellTraces, MinuteCount, ProbeResults, RunResults, TraceResults};
use crate::scenario::{RequestKind, Scenario, TraceStore};
use crate::traces::count::{CountMethod, CountRequest, Server, count_on};
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
    /// What the store is (its version decides how soon a window can be counted).
    server: Server,
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
                        server: Server::NotTempo,
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
                let ready = match client.ready().await {
                    Ok(()) => Server::read(&client).await,
                    Err(err) => Err(err),
                };
                match ready {
                    Ok(server) => Ok((
                        Store {
                            client: Some(client),
                            server,
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
                                server: Server::NotTempo,
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

    /// Traces rooted at the counted service(s) in one cell's [`counted_window`], and how many
    /// of them are complete. Counted by search, exact on every Tempo version.
    async fn count_cell(&self, scenario: &Scenario, cell: &CellResult) -> Result<Vec<CellTraces>> {
        let client = self.client.as_ref().context("no trace store")?;
        let (start_s, end_s) = counted_window(cell);
        let request = CountRequest {
            services: counted_services(scenario),
            complete_with: scenario.traces.services.clone(),
            start_s,
            end_s,
            step_s: STEP_S,
            search_limit: search_limit(cell.rate),
            method: CountMethod::Search,
        };
        let counts = count_on(client, &self.server, &request)
            .await
            .with_context(|| format!("counting the traces of cell {}", cell.order + 1))?;
        Ok(counts
            .services
            .into_iter()
            .map(|service| CellTraces {
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
                complete: service.complete,
                incomplete: service.incomplete,
            })
            .collect())
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

    /// Spans the built-in sink dropped to stay within its bound; `None` for Tempo.
    fn dropped_spans(&self) -> Option<u64> {
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
fn counted_window(cell: &CellResult) -> (u64, u64) {
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

/// Counting as the run goes: each measured cell waits here until its ingestion wait has passed,
/// then is counted while a later cell warms up (never during a measured window), so a run that
/// stops early keeps the counts of every cell it finished.
#[derive(Default)]
pub struct Counter {
    pending: Vec<(CellResult, tokio::time::Instant)>,
    /// Counted cells not yet moved into the results.
    done: Vec<CellTraces>,
    /// The first counting failure; no cell is counted after it.
    failed: Option<anyhow::Error>,
}

impl Counter {
    /// A measured cell, to count once `ingestion_wait` has passed and the store answers for
    /// its whole window (Tempo 3: 30 s after it).
    pub fn push(&mut self, store: &Store, scenario: &Scenario, cell: &CellResult) {
        if scenario.traces.count && store.available() {
            let (_, end_s) = counted_window(cell);
            let wait = scenario
                .load
                .ingestion_wait
                .max(store.server.ready_in(end_s));
            let due = tokio::time::Instant::now() + wait;
            self.pending.push((cell.clone(), due));
        }
    }

    /// Counts every pending cell whose wait has passed.
    pub async fn count_due(&mut self, store: &Store, scenario: &Scenario) {
        let now = tokio::time::Instant::now();
        while self.failed.is_none() {
            let Some(at) = self.pending.iter().position(|(_, due)| *due <= now) else {
                return;
            };
            let (cell, _) = self.pending.remove(at);
            match store.count_cell(scenario, &cell).await {
                Ok(traces) => {
                    self.done.extend(traces);
                    // Cells are counted in order and no later load starts before this cell's
                    // counted window ends (`cell`): what started before it is counted.
                    if let Some(sink) = &store.sink {
                        let (_, end_s) = counted_window(&cell);
                        sink.store().forget_before(end_s * 1_000_000_000);
                    }
                }
                Err(err) => self.failed = Some(err),
            }
        }
    }

    /// Waits for the last pending cell's wait, then counts them all.
    pub async fn count_rest(&mut self, store: &Store, scenario: &Scenario) {
        if let Some(last) = self.pending.iter().map(|(_, due)| *due).max() {
            tokio::time::sleep_until(last).await;
        }
        self.count_due(store, scenario).await;
    }

    /// Moves what was counted into `results`; true when there was anything.
    pub fn collect(&mut self, store: &Store, results: &mut RunResults) -> bool {
        if self.done.is_empty() {
            return false;
        }
        let traces = results.traces.get_or_insert_with(|| TraceResults {
            store: store.label.clone(),
            method: String::new(),
            cells: Vec::new(),
            store_dropped_spans: None,
        });
        traces.method = CountMethod::Search.describe().to_string();
        traces.cells.append(&mut self.done);
        traces.store_dropped_spans = store.dropped_spans();
        true
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The counting failure, if any, for the run's outcome.
    pub fn take_error(&mut self) -> Option<anyhow::Error> {
        self.failed.take()
    }
}
