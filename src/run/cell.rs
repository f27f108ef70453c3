//! One cell: switch the target to the cell's mode, warm up, measure, and turn what the driver and
//! the samplers saw into a [`CellResult`].
//!
//! The warm-up is a load run of its own, and the measured window starts on the next whole second
//! after it has drained; after the window, no load starts (the next warm-up, the probes wait for
//! the ingestion) before the whole second after its end has begun. Trace stores count by whole
//! seconds of the root span's start, so the counted seconds of a cell (`store`: from the second
//! of its start to the second after its end) hold the traces of its measured requests and of
//! nothing else: no warm-up, no other cell.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::Ctx;
use super::backend::{TraceBackend, unix_s};
use super::progress::Progress;
use super::spec::load_spec;
use crate::control::{ModeEnv, Target};
use crate::load::{self, Interval, LoadOutcome, TraceId};
use crate::resources::{
    EdgeReader, Sampler, Series, Source, WindowCpu, host::CpuTicks, procfs,
    summary::service_resources,
};
use crate::results::{CellResult, EncodedHistogram, SecondRecord};
use crate::scenario::Cell;

/// Resource sampling period for processes (containers: the daemon's one second).
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Least pause between the warm-up's drain and the measured window.
const MIN_GAP: Duration = Duration::from_millis(50);

/// Where a run is between cells.
#[derive(Debug, Default)]
pub struct Cursor {
    /// `{seq}` of the next request: it continues across warm-ups, cells and rounds, so every
    /// request of the run is new (a repeated registration would take the cheap 409 path).
    pub next_seq: u64,
    /// No load before this (Unix ms): the whole second after the last window, which its trace
    /// count covers.
    pub load_not_before_ms: i64,
}

/// Runs one cell. `None` when the run was cancelled before the measured window began (nothing
/// worth keeping); a cell cancelled during its window comes back marked partial.
pub async fn run_cell(
    ctx: &mut Ctx<'_>,
    cell: &Cell,
    target: &mut Target,
    store: &TraceBackend,
) -> Result<Option<CellResult>> {
    if !switch_and_warm_up(ctx, cell, target, store).await? {
        return Ok(None);
    }
    measure(ctx, cell, target, store).await.map(Some)
}

/// Applies the cell's mode, lets the store settle, warms up (counting earlier cells meanwhile)
/// and waits for the next whole second. False when cancelled on the way.
async fn switch_and_warm_up(
    ctx: &mut Ctx<'_>,
    cell: &Cell,
    target: &mut Target,
    store: &TraceBackend,
) -> Result<bool> {
    let (scenario, cancel) = (ctx.scenario, ctx.cancel);
    let mode = scenario
        .mode(&cell.mode)
        .with_context(|| format!("the plan names an unknown mode {}", cell.mode))?;
    let mut env = ModeEnv::uniform(&mode.name, scenario.service_names(), &mode.env);
    if let Some(variant) = scenario.variant_of(&cell.mode) {
        env = env.in_variant(variant);
    }
    ctx.progress.cell_started(cell, "restarting the services");
    // Not raced against `cancel`: a step begun on the target is finished and recorded, so that
    // restore knows it; apply itself stops between steps once cancelled.
    target
        .apply(&env, cancel)
        .await
        .with_context(|| format!("applying mode {} to the target", cell.mode))?;
    if cancel.is_cancelled() {
        return Ok(false);
    }
    // The previous services have exited (flushing their spans); their spans must be in the
    // store before this cell loads anything, or their ingestion lands in this cell.
    ctx.progress.cell_started(cell, "settling and warming up");
    tokio::select! {
        () = store.settle() => {}
        () = cancel.cancelled() => return Ok(false),
    }
    let quiet = Duration::from_millis(
        (ctx.cursor.load_not_before_ms - unix_ms(SystemTime::now())).max(0) as u64,
    );
    if !pause(scenario.load.settle.max(quiet), cancel).await {
        return Ok(false);
    }
    // Earlier cells whose ingestion wait has passed are counted while this one warms up.
    let cursor = &mut ctx.cursor;
    let warmup = async {
        if !scenario.load.warmup.is_zero() {
            let spec = load_spec(
                scenario,
                cell.rate,
                scenario.load.warmup,
                &ctx.run_id,
                cursor.next_seq,
            );
            let outcome = load::run(spec, None, cancel.clone())
                .await
                .context("warming up")?;
            cursor.next_seq = outcome.next_seq;
        }
        anyhow::Ok(())
    };
    let (warmed, ()) = tokio::join!(warmup, ctx.counter.count_due(store, scenario));
    warmed?;
    Ok(pause(until_next_second(), cancel).await)
}

/// The measured window: the load, the resource samplers and the trace counts while loading.
async fn measure(
    ctx: &mut Ctx<'_>,
    cell: &Cell,
    target: &mut Target,
    store: &TraceBackend,
) -> Result<CellResult> {
    let scenario = ctx.scenario;
    let sources = target.sources();
    let docker = docker_for(&sources, target).await?;
    target.mark(&format!("measure {} at {} rps", cell.mode, cell.rate))?;
    let edges = EdgeReader::resolve(&sources, docker.as_ref())
        .await
        .context("finding the services' CPU counters")?;
    ctx.progress.cell_started(cell, "measuring");
    // The window's start edge: nothing slow (no sampling yet, no load) between it and the load.
    let own_before = procfs::own_cpu_ns().ok();
    let ticks_before = CpuTicks::now();
    let cpu_before = edges
        .read()
        .await
        .context("reading the services' CPU at the window's start")?;
    let sampler = Sampler::start(&sources, SAMPLE_INTERVAL, docker.as_ref())?;
    let spec = load_spec(
        scenario,
        cell.rate,
        scenario.load.duration,
        &ctx.run_id,
        ctx.cursor.next_seq,
    );
    let (tx, rx) = mpsc::unbounded_channel::<Interval>();
    let (slowest_tx, slowest) = watch::channel(Vec::new());
    let collector = tokio::spawn(collect_seconds(rx, ctx.progress.clone(), slowest_tx));
    // The load starts just after this whole second began: it is its counted window's first.
    let start_s = unix_s();
    let load = load::run(spec, Some(tx), ctx.cancel.clone());
    // The window's end edge is read as soon as the load ends, in a task of its own: counting
    // traces meanwhile must not delay it.
    let load = tokio::spawn(async move {
        let outcome = load.await;
        let cpu_after = edges.read().await;
        (
            outcome,
            cpu_after,
            procfs::own_cpu_ns().ok(),
            CpuTicks::now(),
        )
    });
    let loaded = ctx
        .counter
        .while_loading(store, scenario, cell, start_s, &slowest, load)
        .await;
    let series = sampler.stop().await;
    let (window_start, seconds) = collector.await.context("the progress task failed")?;
    let (outcome, cpu_after, own_after, ticks_after) = loaded.context("the load task failed")?;
    let steal_pct = ticks_after
        .zip(ticks_before)
        .and_then(|(after, before)| after.steal_pct_since(before));
    let tracebench_cpu_s = own_after
        .zip(own_before)
        .map(|(after, before)| after.saturating_sub(before) as f64 / 1e9);
    let outcome = outcome.context("driving the load")?;
    ctx.cursor.next_seq = outcome.next_seq;
    let series = series.context("sampling CPU and memory")?;
    let cpu_after = cpu_after.context("reading the services' CPU at the window's end")?;
    let window_cpu: Vec<_> = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(start, end)| WindowCpu::between(start, end))
        .collect();
    let result = CellResult {
        steal_pct,
        ..cell_result(
            cell,
            &outcome,
            window_start,
            seconds,
            (&series, &window_cpu),
            tracebench_cpu_s,
        )
    };
    // Nothing loads the services again before the whole second after the window (the end of
    // its trace-counting window) has begun; the next cell's restart overlaps that wait.
    ctx.cursor.load_not_before_ms = (result.window_end_unix_ms / 1000 + 1) * 1000;
    Ok(result)
}

/// The daemon connection that samples containers: the docker target's own, or (an external
/// target naming containers) a fresh one; `None` when no source is a container.
async fn docker_for(sources: &[Source], target: &Target) -> Result<Option<bollard::Docker>> {
    if !sources
        .iter()
        .any(|s| matches!(s, Source::Container { .. }))
    {
        return Ok(None);
    }
    Ok(Some(match target {
        Target::Docker(t) => t.docker().clone(),
        _ => crate::control::docker::connect().await?,
    }))
}

/// Shows each second of the window as it closes and keeps it encoded: a dense histogram is
/// 139 KB, of which a second at 1,000 req/s touches some 100 KB, so a 10-minute cell kept as
/// intervals held 60 MB. Passes on the slowest requests so far (those with a trace) to
/// `slowest`. Returns when the load ends: the window's start and its seconds.
async fn collect_seconds(
    mut rx: mpsc::UnboundedReceiver<Interval>,
    live: Progress,
    slowest: watch::Sender<Vec<(i64, TraceId)>>,
) -> (Option<SystemTime>, Vec<SecondRecord>) {
    let mut window_start = None;
    let mut seconds = Vec::new();
    while let Some(interval) = rx.recv().await {
        live.interval(&interval);
        let start_ms = unix_ms(*window_start.get_or_insert(interval.window_start));
        slowest.send_replace(
            interval
                .slowest
                .iter()
                .filter_map(|r| Some((start_ms + r.due_ms as i64, r.trace_id?)))
                .collect(),
        );
        seconds.push(SecondRecord {
            offset_s: interval.start.as_secs() as u32,
            completed: interval.completed,
            errors: interval.errors,
            latency_us: EncodedHistogram::from_hdr(&interval.latency),
        });
    }
    (window_start, seconds)
}

/// Sleeps `length` unless cancelled first; false when cancelled.
async fn pause(length: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(length) => true,
        () = cancel.cancelled() => false,
    }
}

/// How long until the next whole second of the wall clock, at least [`MIN_GAP`] away.
fn until_next_second() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let to_next = Duration::from_secs(1) - Duration::from_nanos(u64::from(now.subsec_nanos()));
    if to_next < MIN_GAP {
        to_next + Duration::from_secs(1)
    } else {
        to_next
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The cell's record: the driver's summary and histograms, the seconds of the measured window
/// (which began at `window_start`), and each service's resources: its series cut to that window,
/// beside its CPU read at the window's edges (`window_cpu`, in the same order).
fn cell_result(
    cell: &Cell,
    outcome: &LoadOutcome,
    window_start: Option<SystemTime>,
    seconds: Vec<SecondRecord>,
    (series, window_cpu): (&[Series], &[Option<WindowCpu>]),
    tracebench_cpu_s: Option<f64>,
) -> CellResult {
    let s = &outcome.summary;
    let window_start =
        window_start.unwrap_or_else(|| SystemTime::now() - Duration::from_secs_f64(s.duration_s));
    let start_ms = unix_ms(window_start);
    let end_ms = start_ms + (s.duration_s * 1000.0).round() as i64;
    // `errors` counts failures (no response) and unexpected statuses; only the latter completed.
    let failed: u64 = s.error_kinds.values().sum();
    let ok = s.completed.saturating_sub(s.errors.saturating_sub(failed));
    let warnings: Vec<String> = s.warnings().iter().map(ToString::to_string).collect();
    CellResult {
        mode: cell.mode.clone(),
        rate: cell.rate,
        round: cell.round,
        replicate: cell.replicate,
        order: cell.order,
        window_start_unix_ms: start_ms,
        window_end_unix_ms: end_ms,
        load: s.clone(),
        ok,
        warnings,
        tracebench_cpu_s,
        steal_pct: None,
        latency: EncodedHistogram::from_hdr(&outcome.latency),
        seconds,
        resources: series
            .iter()
            .enumerate()
            .map(|(i, series)| {
                let cpu = window_cpu.get(i).copied().flatten();
                service_resources(series, start_ms, end_ms, cpu, s.completed)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_second_is_at_least_the_gap_away_and_at_most_a_second_and_the_gap() {
        for _ in 0..20 {
            let wait = until_next_second();
            assert!(wait >= MIN_GAP && wait <= Duration::from_secs(1) + MIN_GAP);
        }
    }
}
