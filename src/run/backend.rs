//! The trace store of a run: the in-process sink or a Tempo, reached through the one Tempo client
//! either way; traces counted per cell window as the run goes ([`Counter`]), and the probes.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::exit::UsageError;
use crate::results::{CellResult, CellTraces, MinuteCount, ProbeResults, RunResults, TraceResults};
use crate::scenario::{Cell, RequestKind, Scenario, TraceStore};
use crate::traces::count::{CountMethod, CountRequest, Server, ServiceCounts, count_on};
use crate::traces::sink::{Sink, SinkConfig};
use crate::traces::tempo::{TempoClient, redact_userinfo};
use crate::traces::verify::{self, ProbeOutcome, VerifyRequest};

/// Counting step: traces per minute, as the report shows them.
const STEP_S: u64 = 60;
/// While a cell loads the built-in sink, how often the traces past their ingestion wait are
/// counted and forgotten ([`Counter::while_loading`]).
const COUNT_WHILE_LOADING_EVERY: Duration = Duration::from_secs(1);
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
    server: Server,
    sink: Option<Sink>,
    /// `built-in sink` or `tempo URL`, for the report.
    pub label: String,
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
                let client = TempoClient::new(&sink.addrs().api_url())?;
                let backend = TraceBackend {
                    client: Some(client),
                    server: Server::NotTempo,
                    sink: Some(sink),
                    label: "built-in sink".into(),
                };
                Ok((backend, None))
            }
            TraceStore::Tempo {
                url,
                tenant,
                token_env,
            } => {
                let client = tempo_client(url, tenant.as_deref(), token_env.as_deref())?;
                Self::open_tempo(client, url, scenario.traces.required).await
            }
        }
    }

    /// Checks that Tempo answers `/ready` and which version it is; an error when `required`,
    /// else a backend without a client and the warning saying why.
    async fn open_tempo(
        client: TempoClient,
        url: &str,
        required: bool,
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
    async fn count_window(
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
                .filter(|r| r.outcome != ProbeOutcome::Found)
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
///
/// The built-in sink holds its traces in tracebench's own memory, so with it the counting also
/// goes on while a cell loads ([`Counter::while_loading`]): every two seconds the traces past
/// their ingestion wait are counted and forgotten, and the sink holds only the last few seconds
/// of traffic however long the cell. A Tempo keeps its own traces: it is asked only between
/// measured windows.
#[derive(Default)]
pub struct Counter {
    pending: Vec<(CellResult, tokio::time::Instant)>,
    /// Counts taken while a cell loaded, by the cell's `order`, added to its count at the end.
    early: HashMap<u32, (u64, Vec<ServiceCounts>)>,
    /// Counted cells not yet moved into the results.
    done: Vec<CellTraces>,
    /// The first counting failure; no cell is counted after it.
    failed: Option<anyhow::Error>,
}

impl Counter {
    /// A measured cell, to count once `ingestion_wait` has passed and the store answers for
    /// its whole window (Tempo 3: 30 s after it).
    pub fn push(&mut self, store: &TraceBackend, scenario: &Scenario, cell: &CellResult) {
        if scenario.traces.count && store.available() {
            let (_, end_s) = counted_window(cell);
            let wait = scenario
                .load
                .ingestion_wait
                .max(store.server.ready_in(end_s));
            let due = tokio::time::Instant::now() + wait;
            self.pending.push((cell.clone(), due));
        } else {
            self.early.remove(&cell.order);
        }
    }

    /// Awaits `load`, the load of cell `cell` whose counted window starts at `start_s`. With the
    /// built-in sink, meanwhile, every [`COUNT_WHILE_LOADING_EVERY`]: earlier cells now due are
    /// counted, then this cell's traces past the ingestion wait (unless `cell.discard`), and
    /// every trace older than that is forgotten. Counting never holds up the load: it runs on
    /// the driver's own thread.
    pub async fn while_loading<T>(
        &mut self,
        store: &TraceBackend,
        scenario: &Scenario,
        cell: &Cell,
        start_s: u64,
        load: impl Future<Output = T>,
    ) -> T {
        let Some(sink) = &store.sink else {
            return load.await;
        };
        let count = scenario.traces.count && store.available() && !cell.discard;
        tokio::pin!(load);
        let mut ticks = tokio::time::interval(COUNT_WHILE_LOADING_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut load => return out,
                _ = ticks.tick() => {}
            }
            self.count_due(store, scenario).await;
            if self.failed.is_some() || !self.pending.is_empty() {
                continue; // what is still to count must stay in the sink
            }
            let until_s = unix_s().saturating_sub(scenario.load.ingestion_wait.as_secs());
            if until_s <= start_s {
                continue;
            }
            if count {
                match store
                    .count_window(scenario, cell.rate, start_s, until_s)
                    .await
                {
                    Ok(counts) => {
                        let (_, sum) = self
                            .early
                            .entry(cell.order)
                            .or_insert((start_s, Vec::new()));
                        add(sum, counts);
                    }
                    Err(err) => {
                        self.failed = Some(err.context(format!(
                            "counting the traces of cell {} while it ran",
                            cell.order + 1
                        )));
                        continue;
                    }
                }
            }
            // Counted (or not to be counted): what started before `until_s` is done with.
            sink.store().forget_before(until_s * 1_000_000_000);
        }
    }

    /// Counts every pending cell whose wait has passed.
    pub async fn count_due(&mut self, store: &TraceBackend, scenario: &Scenario) {
        let now = tokio::time::Instant::now();
        while self.failed.is_none() {
            let Some(at) = self.pending.iter().position(|(_, due)| *due <= now) else {
                return;
            };
            let (cell, _) = self.pending.remove(at);
            let (start_s, end_s) = counted_window(&cell);
            let counted = store
                .count_window(scenario, cell.rate, start_s, end_s)
                .await
                .with_context(|| format!("counting the traces of cell {}", cell.order + 1));
            let early = match self.early.remove(&cell.order) {
                Some((early_start_s, _)) if early_start_s != start_s => {
                    self.failed = Some(anyhow::anyhow!(
                        "cell {} was counted from {early_start_s} while it ran but its window \
                         starts at {start_s}: this is a bug",
                        cell.order + 1
                    ));
                    return;
                }
                early => early.map(|(_, counts)| counts).unwrap_or_default(),
            };
            match counted {
                Ok(counts) => {
                    // What was counted while the cell ran has been forgotten since: the two
                    // counts add up to the whole window.
                    let mut all = early;
                    add(&mut all, counts);
                    self.done.extend(cell_traces(&cell, start_s, all));
                    // Cells are counted in order and no later load starts before this cell's
                    // counted window ends (`cell`): what started before it is counted.
                    if let Some(sink) = &store.sink {
                        sink.store().forget_before(end_s * 1_000_000_000);
                    }
                }
                Err(err) => self.failed = Some(err),
            }
        }
    }
    /// Waits for the last pending cell's wait, then counts them all.
    pub async fn count_rest(&mut self, store: &TraceBackend, scenario: &Scenario) {
        if let Some(last) = self.pending.iter().map(|(_, due)| *due).max() {
            tokio::time::sleep_until(last).await;
        }
        self.count_due(store, scenario).await;
    }

    /// Moves what was counted into `results`; true when there was anything.
    pub fn collect(&mut self, store: &TraceBackend, results: &mut RunResults) -> bool {
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

/// Adds `more` to `into`, service by service and minute by minute (both count from the same
/// start second).
fn add(into: &mut Vec<ServiceCounts>, more: Vec<ServiceCounts>) {
    for counts in more {
        let Some(sum) = into.iter_mut().find(|c| c.service == counts.service) else {
            into.push(counts);
            continue;
        };
        if sum.per_step.len() < counts.per_step.len() {
            sum.per_step.resize(counts.per_step.len(), 0);
        }
        for (total, n) in sum.per_step.iter_mut().zip(&counts.per_step) {
            *total += n;
        }
        sum.total += counts.total;
        sum.complete = sum.complete.zip(counts.complete).map(|(a, b)| a + b);
        sum.incomplete = sum.incomplete.zip(counts.incomplete).map(|(a, b)| a + b);
        sum.queries += counts.queries;
    }
}

/// A cell's trace counts, one record per counted service.
fn cell_traces(cell: &CellResult, start_s: u64, counts: Vec<ServiceCounts>) -> Vec<CellTraces> {
    counts
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
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(service: &str, per_step: &[u64], complete: Option<u64>) -> ServiceCounts {
        let total = per_step.iter().sum();
        ServiceCounts {
            service: service.into(),
            per_step: per_step.to_vec(),
            total,
            complete,
            incomplete: complete.map(|c| total - c),
            queries: 1,
        }
    }

    #[test]
    fn counts_taken_while_loading_add_up_with_the_final_count_minute_by_minute() {
        // While loading: 50 s of the first minute counted; at the end: the rest of that minute
        // and a second one (the first's counted part forgotten, so counted again as zero).
        let mut all = vec![counts("gw", &[3000], Some(3000))];
        add(
            &mut all,
            vec![
                counts("gw", &[600, 1200], Some(1799)),
                counts("other", &[5], None),
            ],
        );
        assert_eq!(all[0].per_step, vec![3600, 1200]);
        assert_eq!(
            (all[0].total, all[0].complete, all[0].incomplete),
            (4800, Some(4799), Some(1))
        );
        assert_eq!(all[0].queries, 2);
        assert_eq!(all[1].service, "other");
        // A part whose completeness is unknown makes the whole unknown.
        add(&mut all, vec![counts("gw", &[1], None)]);
        assert_eq!((all[0].total, all[0].complete), (4801, None));
    }
}
