//! Counting each cell's traces: while it loads (so the store can forget what is counted), once
//! its ingestion wait has passed, and whatever is left at the end of the run. The traces of a
//! cell's slowest requests are looked up at the same time, and split into where their latency
//! went ([`breakdown`]); the sink's copies of them are kept before it forgets them.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use super::backend::{STEP_S, TraceBackend, counted_window, unix_s};
use crate::load::TraceId;
use crate::results::{CellResult, CellTraces, MinuteCount, RunResults, SlowTrace, TraceResults};
use crate::scenario::{Cell, Scenario};
use crate::traces::breakdown::breakdown;
use crate::traces::count::{CountMethod, ServiceCounts};
use crate::traces::model::TraceResponse;

/// The slowest requests of the cell loading so far: when each was due (Unix ms) and the trace
/// its response named.
pub type SlowestSoFar = watch::Receiver<Vec<(i64, TraceId)>>;

/// While a cell loads the built-in sink, how often the traces past their ingestion wait are
/// counted and forgotten ([`Counter::while_loading`]).
const COUNT_WHILE_LOADING_EVERY: Duration = Duration::from_secs(1);

/// Counting as the run goes: each measured cell waits here until its ingestion wait has passed,
/// then is counted while a later cell warms up (never during a measured window), so a run that
/// stops early keeps the counts of every cell it finished.
///
/// The built-in sink holds its traces in tracebench's own memory, so with it the counting also
/// goes on while a cell loads ([`Counter::while_loading`]): every second the traces past
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
    /// The traces of counted cells' slowest requests, not yet moved into the results.
    slow_done: Vec<SlowTrace>,
    /// Copies of the sink's traces of the loading cell's slowest requests, taken before the
    /// sink forgot them.
    kept: HashMap<TraceId, TraceResponse>,
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
        slowest: &SlowestSoFar,
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
            // Counted (or not to be counted): what started before `until_s` is done with, but
            // for the traces of the slowest requests so far.
            let candidates = slowest.borrow().clone();
            self.kept
                .retain(|id, _| candidates.iter().any(|(_, c)| c == id));
            for (due_ms, id) in candidates {
                if due_ms < (until_s * 1000) as i64
                    && !self.kept.contains_key(&id)
                    && let Some(trace) = sink.store().trace(&id.0)
                {
                    self.kept.insert(id, trace);
                }
            }
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
                    if let Err(err) = self.look_up_slowest(store, scenario, &cell).await {
                        self.failed = Some(err.context(format!(
                            "looking up the slowest requests' traces of cell {}",
                            cell.order + 1
                        )));
                        return;
                    }
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
    /// Looks up the traces of `cell`'s slowest requests (the sink's kept copy first) and splits
    /// each request's latency over its trace.
    async fn look_up_slowest(
        &mut self,
        store: &TraceBackend,
        scenario: &Scenario,
        cell: &CellResult,
    ) -> anyhow::Result<()> {
        for slow in &cell.load.slowest {
            let Some(id) = slow.trace_id else { continue };
            let trace = match self.kept.remove(&id) {
                Some(trace) => Some(trace),
                None => store.trace(id).await?,
            };
            let services = &scenario.traces.services;
            let complete = trace
                .as_ref()
                .map(|t| t.missing_service(services).is_none());
            self.slow_done.push(SlowTrace {
                mode: cell.mode.clone(),
                rate: cell.rate,
                round: cell.round,
                replicate: cell.replicate,
                trace_id: id,
                found: trace.is_some(),
                complete: complete.filter(|_| !services.is_empty()),
                breakdown: trace.and_then(|t| breakdown(&t, slow)),
            });
        }
        Ok(())
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
            slow_traces: Vec::new(),
            link: Some(store.link.clone()),
        });
        traces.method = CountMethod::Search.describe().to_string();
        traces.cells.append(&mut self.done);
        traces.slow_traces.append(&mut self.slow_done);
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
