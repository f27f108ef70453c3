//! The open-loop load driver (design.md, "Open-loop driver").
//!
//! Request *i* is due at a time fixed in advance ([`schedule`]), whatever happened to earlier
//! requests; a bounded set of connections (HTTP/1.1 keep-alive in [`http`], or gRPC in [`grpc`])
//! takes the due requests in order. Latency is measured from the due time, so a server stall
//! shows its whole cost instead of being hidden by a driver that waited (coordinated omission).
//! At most `max_in_flight` requests are outstanding; what the cap refuses is counted as dropped.
//! Each connection records its results straight into HDR histograms ([`record`]): no hop per
//! request, and memory does not grow with run length. All of it runs on one thread ([`run`]).
//!
//! The contract for callers (`drive`, `run`): build a [`LoadSpec`], call [`run`] with an optional
//! channel for per-second [`Interval`]s and a shutdown token, get a [`LoadOutcome`].

mod client;
mod grpc;
pub mod hlog;
mod http;
pub mod merge;
mod record;
mod schedule;
mod slowest;
mod summary;
mod template;
mod timer;
mod trace_id;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use grpc::GrpcEndpoint;
pub use http::HttpEndpoint;
pub use record::{
    Completion, HIGHEST_US, Interval, Recorder, RequestOutcome, ResponseCode, grpc_code_name,
    new_histogram,
};
pub use schedule::{Arrivals, LONGEST, RATES, Schedule, Shard, check_rate, parse_duration};
pub use slowest::{DEFAULT_SLOWEST, SlowRequest, Slowest};
pub use summary::{LAG_WARN_MS, LoadSummary, Percentiles, Warning};
pub use template::{BodyTemplate, DEFAULT_REGISTER_BODY};
pub use trace_id::{DEFAULT_TRACE_HEADER, TraceId};

use crate::error::UsageError;
use client::{Client, work};
use grpc::GrpcClient;
use http::HttpClient;
use record::close_intervals;
use schedule::{Queue, Scheduler};

/// What to load.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Http(HttpEndpoint),
    Grpc(GrpcEndpoint),
}

/// How long outstanding requests may still finish after a schedule ends or is cancelled, unless
/// told otherwise.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How far in the past a start time may be and still be taken (as "now"): drivers started by a
/// scheduler a moment late still run.
const LATE_START: Duration = Duration::from_secs(1);

/// Connections (HTTP keep-alive, or gRPC channels) unless told otherwise, by `drive` and a
/// scenario alike: enough for the rates a service stack is measured at; the benchmarks of the
/// driver's own cost set theirs.
pub const DEFAULT_CONNECTIONS: u32 = 8;
/// Outstanding requests at most unless told otherwise; a due request beyond it is dropped.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 256;
/// A request without a response after this long is an error, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub target: Endpoint,
    /// Requests per second.
    pub rate: f64,
    /// Length of the measured window (after the warm-up).
    pub duration: Duration,
    /// Traffic at the same rate before the measured window, not recorded.
    pub warmup: Duration,
    /// Requests that can be on the wire at once: keep-alive HTTP connections, or gRPC channels.
    pub connections: usize,
    /// Cap on requests due but not yet recorded (queued for a connection or on the wire).
    pub max_in_flight: usize,
    pub arrivals: Arrivals,
    /// A request without a response after this long counts as an error and its connection is
    /// dropped.
    pub request_timeout: Duration,
    /// After the schedule ends (or a shutdown), how long outstanding requests may still finish.
    pub drain_timeout: Duration,
    /// The `{run}` placeholder; also seeds Poisson arrivals. See [`new_run_id`].
    pub run_id: String,
    /// The `{seq}` of the first request; a run continues it across warm-ups and cells so that
    /// no two requests of one run share a body (see [`LoadOutcome::next_seq`]).
    pub first_seq: u64,
    /// How many of the slowest requests to keep ([`LoadSummary::slowest`]).
    pub slowest: usize,
    /// When the schedule (the warm-up, if any) begins; `None`: at once. Drivers given the same
    /// instant start together and their seconds line up.
    pub start_at: Option<SystemTime>,
    /// Every request this much later than its schedule says: a shard's place among the shards
    /// of one schedule ([`Shard::phase`]).
    pub phase: Duration,
}

/// A short random identifier for a run: 8 hex digits.
pub fn new_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// What a run measured.
pub struct LoadOutcome {
    /// Completion minus due time, µs (corrected for coordinated omission).
    pub latency: Histogram<u64>,
    /// Completion minus actual send time, µs.
    pub service_time: Histogram<u64>,
    /// Actual send minus due time, µs.
    pub driver_lag: Histogram<u64>,
    pub summary: LoadSummary,
    /// The `{seq}` after the last request scheduled: the next load's `first_seq`.
    pub next_seq: u64,
}

impl LoadSpec {
    /// Checks the numbers a run cannot work with.
    pub fn validate(&self) -> Result<(), UsageError> {
        let bad = |what: String| Err(UsageError(what));
        if let Err(expected) = check_rate(self.rate) {
            return bad(format!("rate: {expected}"));
        }
        if self.duration.is_zero() || self.duration > LONGEST || self.warmup > LONGEST {
            return bad(format!(
                "duration must be longer than zero, and it and the warm-up at most 30 days; got {} and {}",
                humantime::format_duration(self.duration),
                humantime::format_duration(self.warmup)
            ));
        }
        if self.connections == 0 || self.max_in_flight == 0 {
            return bad("connections and max in-flight must be at least 1".into());
        }
        if let Some(at) = self.start_at {
            let now = SystemTime::now();
            let shown = humantime::format_rfc3339_millis(at);
            if at + LATE_START < now {
                return bad(format!("the start time {shown} has passed"));
            }
            if at > now + LONGEST {
                return bad(format!("the start time {shown} is more than 30 days away"));
            }
        }
        Ok(())
    }
}

/// Resolves the target's address and makes one TCP connection, so an unreachable target fails
/// before the run starts with one clear error rather than as thousands of counted errors.
pub async fn check_reachable(target: &Endpoint) -> Result<SocketAddr> {
    let authority = match target {
        Endpoint::Http(t) => t.authority(),
        Endpoint::Grpc(t) => {
            let uri = &t.uri;
            format!(
                "{}:{}",
                uri.host().unwrap_or_default(),
                uri.port_u16().unwrap_or(80)
            )
        }
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("cannot resolve {authority}"))?
        .collect();
    // Try each address (e.g. ::1 then 127.0.0.1 for localhost); report the last failure.
    let mut failure = anyhow::anyhow!("the name has no address");
    for addr in addrs {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => return Ok(addr),
            Ok(Err(err)) => failure = err.into(),
            Err(_) => failure = anyhow::anyhow!("no answer within 5 s"),
        }
    }
    Err(failure.context(format!("cannot connect to {authority}")))
}

/// Drives `spec` until its schedule ends or `shutdown` fires, then waits (up to the drain timeout)
/// for outstanding requests. Each per-second interval of the measured window goes to `intervals`
/// as it closes. After a shutdown the summary is marked partial.
///
/// The load runs on a thread of its own with a single-threaded runtime: the scheduler, every
/// connection and the recorder share one event loop, so a request costs a write, a read and its
/// share of one wake-up per tick, and the caller's runtime (the trace sink, the resource sampler)
/// cannot delay it. Dropping the returned future stops the load as a shutdown would.
pub async fn run(
    spec: LoadSpec,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
    shutdown: CancellationToken,
) -> Result<LoadOutcome> {
    spec.validate()?;
    let addr = check_reachable(&spec.target).await?;
    let stop = shutdown.child_token();
    let _stop_when_dropped = stop.clone().drop_guard();
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("tracebench-driver".into())
        .spawn(move || {
            let _ = done_tx.send(drive_on_this_thread(spec, addr, intervals, stop));
        })
        .context("cannot start the driver's thread")?;
    done_rx.await.context("the driver's thread failed")?
}

fn drive_on_this_thread(
    spec: LoadSpec,
    addr: SocketAddr,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
    shutdown: CancellationToken,
) -> Result<LoadOutcome> {
    precise_sleeps();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the driver's runtime")?;
    tokio::task::LocalSet::new().block_on(&runtime, drive(spec, addr, intervals, shutdown))
}

/// Asks Linux to end this thread's timed waits (tokio's `epoll_wait` timeouts) within 1 µs
/// instead of the default 50 µs timer slack. Best effort: without it the driver still works, a
/// little later.
fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes a plain integer and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Lets the connections finish what is queued (the queue is closed), aborting them after
/// `timeout`. A connection that panicked stopped taking requests: the figures would be quietly
/// wrong, so that is an error.
async fn drain(mut workers: tokio::task::JoinSet<()>, timeout: Duration) -> Result<()> {
    let mut panicked = None;
    let mut join = |joined: Option<Result<(), tokio::task::JoinError>>| match joined {
        Some(Err(err)) if err.is_panic() => {
            panicked.get_or_insert(err);
            true
        }
        other => other.is_some(),
    };
    let drained =
        tokio::time::timeout(timeout, async { while join(workers.join_next().await) {} }).await;
    if drained.is_err() {
        workers.abort_all();
        while join(workers.join_next().await) {}
    }
    match panicked {
        Some(err) => anyhow::bail!("a connection of the driver failed: {err}"),
        None => Ok(()),
    }
}

async fn drive(
    spec: LoadSpec,
    addr: SocketAddr,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
    shutdown: CancellationToken,
) -> Result<LoadOutcome> {
    let run_id: Rc<str> = spec.run_id.clone().into();

    // Give the connections a moment to start before the first request is due, or start at the
    // instant given (shared with other drivers).
    let start = match spec.start_at {
        Some(at) => Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default(),
        None => Instant::now() + Duration::from_millis(20),
    };
    let measure_start = start + spec.warmup;
    let window_start = SystemTime::now() + (measure_start - Instant::now());
    let end = measure_start + spec.duration;

    let queue = Rc::new(Queue::new(spec.max_in_flight));
    let recorder = Rc::new(RefCell::new(Recorder::new(
        measure_start,
        window_start,
        spec.slowest,
    )));
    let closed = CancellationToken::new();
    let closer =
        tokio::task::spawn_local(close_intervals(recorder.clone(), intervals, closed.clone()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..spec.connections {
        let client = match &spec.target {
            Endpoint::Http(t) => Client::Http(HttpClient::new(Arc::new(t.clone()), addr)),
            Endpoint::Grpc(t) => Client::Grpc(GrpcClient::new(Arc::new(t.clone()))),
        };
        workers.spawn_local(work(
            client,
            queue.clone(),
            recorder.clone(),
            run_id.clone(),
            spec.request_timeout,
        ));
    }
    let seed = u64::from_str_radix(&spec.run_id, 16).unwrap_or_default();
    let scheduler = Scheduler {
        schedule: Schedule::new(spec.rate, spec.arrivals, seed).with_phase(spec.phase),
        first_seq: spec.first_seq,
        start,
        measure_start,
        end,
        queue,
        recorder: recorder.clone(),
        shutdown,
    };
    // The driver thread's CPU clock at the measured window's start, read on this thread.
    let cpu_at_window_start = Rc::new(Cell::new(None));
    let mark = tokio::task::spawn_local({
        let at = cpu_at_window_start.clone();
        async move {
            tokio::time::sleep_until(measure_start.into()).await;
            at.set(thread_cpu_ns());
        }
    });
    let report = scheduler.run().await.context("the driver's timer failed")?;

    drain(workers, spec.drain_timeout).await?;
    mark.abort();
    let driver_cpu_s = cpu_at_window_start
        .get()
        .zip(thread_cpu_ns())
        .map(|(start, end)| end.saturating_sub(start) as f64 / 1e9);
    closed.cancel();
    closer.await.context("the interval task failed")?;
    let recorder = Rc::into_inner(recorder)
        .context("a connection outlived the run")?
        .into_inner();

    let measured = if report.cancelled {
        report.stopped_at.saturating_duration_since(measure_start)
    } else {
        spec.duration
    };
    let summary = LoadSummary {
        driver_cpu_s,
        ..summarize(
            &spec,
            &recorder,
            report.sent_measured,
            measured,
            report.cancelled,
        )
    };
    Ok(LoadOutcome {
        latency: recorder.latency,
        service_time: recorder.service_time,
        driver_lag: recorder.driver_lag,
        summary,
        next_seq: report.next_seq,
    })
}

fn summarize(
    spec: &LoadSpec,
    recorder: &Recorder,
    sent: u64,
    measured: Duration,
    partial: bool,
) -> LoadSummary {
    let counts = &recorder.counts;
    let failed: u64 = counts.error_kinds.values().sum();
    // The window is extended to the last response, so responses that came late lower the rate.
    let elapsed = measured.max(recorder.span_to_last_response()).as_secs_f64();
    LoadSummary {
        run_id: spec.run_id.clone(),
        requested_rate: spec.rate,
        achieved_rate: if elapsed > 0.0 {
            counts.completed as f64 / elapsed
        } else {
            0.0
        },
        duration_s: measured.as_secs_f64(),
        warmup_s: spec.warmup.as_secs_f64(),
        arrivals: spec.arrivals,
        connections: spec.connections,
        max_in_flight: spec.max_in_flight,
        due: sent + counts.dropped,
        sent,
        completed: counts.completed,
        errors: counts.errors,
        dropped: counts.dropped,
        unfinished: sent.saturating_sub(counts.completed + failed),
        status_counts: counts
            .status_counts
            .iter()
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        error_kinds: counts.error_kinds.clone(),
        latency_ms: Percentiles::from_hdr_us(&recorder.latency),
        service_time_ms: Percentiles::from_hdr_us(&recorder.service_time),
        driver_lag_ms: Percentiles::from_hdr_us(&recorder.driver_lag),
        slowest: recorder.slowest.sorted(),
        partial,
        driver_cpu_s: None,
    }
}

/// The calling thread's CPU time, ns; `None` where the clock cannot be read.
fn thread_cpu_ns() -> Option<u64> {
    crate::resources::procfs::clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).ok()
}
