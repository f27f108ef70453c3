//! Recording: every result goes into HDR histograms and counters the moment it arrives, and is
//! then forgotten, so the driver's memory does not grow with the length of a run. One recorder
//! holds all histograms; the connections record into it directly, on the driver's one thread (no
//! lock, no task to wake, no channel to cross per request). A ticking task closes a per-second
//! interval once a second.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::slowest::{SlowRequest, Slowest};
use super::trace_id::TraceId;

/// Histogram bounds: 1 µs to 60 s at 3 significant digits; values are microseconds.
pub const LOWEST_US: u64 = 1;
pub const HIGHEST_US: u64 = 60_000_000;
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// An empty histogram with the driver's bounds (µs).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// The status a response came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResponseCode {
    Http(u16),
    /// A gRPC status code's number (`tonic::Code` is not `Ord`, which the counts map needs).
    Grpc(i32),
}

impl ResponseCode {
    pub fn grpc(code: tonic::Code) -> ResponseCode {
        ResponseCode::Grpc(code as i32)
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseCode::Http(code) => write!(f, "{code}"),
            ResponseCode::Grpc(code) => {
                write!(f, "grpc:{}", grpc_code_name(tonic::Code::from_i32(*code)))
            }
        }
    }
}

/// The canonical upper-case name of a gRPC status code (`OK`, `ALREADY_EXISTS`, ...).
pub fn grpc_code_name(code: tonic::Code) -> String {
    // tonic's Debug names are the canonical names in CamelCase ("AlreadyExists").
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A response; `ok` when its status is one the user expects; `trace` when it named the
    /// trace it was recorded in.
    Response {
        code: ResponseCode,
        ok: bool,
        trace: Option<TraceId>,
    },
    /// No response: connect failure, reset, timeout... The message is the error kind.
    Failed(String),
}

/// One finished request, with its three instants.
pub struct Completion {
    pub due: Instant,
    pub sent: Instant,
    pub done: Instant,
    pub outcome: RequestOutcome,
}

/// One closed per-second interval, handed to the caller as it closes.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Wall-clock time at which the measured window began (the same for every interval).
    pub window_start: SystemTime,
    /// Start of this interval, from the beginning of the measured window.
    pub start: Duration,
    pub length: Duration,
    /// Corrected latency (from the due time) of the requests that ended in this interval, with
    /// or without a response, µs.
    pub latency: Histogram<u64>,
    /// Responses received in this interval (any status).
    pub completed: u64,
    /// Unexpected statuses and failures in this interval.
    pub errors: u64,
    /// The slowest requests of the window so far, slowest first.
    pub slowest: Vec<SlowRequest>,
}

/// Counters kept beside the histograms.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub completed: u64,
    pub errors: u64,
    pub dropped: u64,
    pub status_counts: BTreeMap<ResponseCode, u64>,
    pub error_kinds: BTreeMap<String, u64>,
}

/// All measurements of one run. Results due before `measure_start` (warm-up) are ignored.
pub struct Recorder {
    measure_start: Instant,
    window_start: SystemTime,
    /// Completion minus due time: what a user waiting on the schedule saw (corrected).
    pub latency: Histogram<u64>,
    /// Completion minus actual send time: what the server (and the connection) took, up to the
    /// timeout for a request that got no response.
    pub service_time: Histogram<u64>,
    /// Actual send minus due time: how late the driver was, waiting for timer or connection.
    pub driver_lag: Histogram<u64>,
    pub counts: Counts,
    /// The slowest requests of the window.
    pub slowest: Slowest,
    last_done: Option<Instant>,
    interval: Histogram<u64>,
    interval_start: Instant,
    interval_completed: u64,
    interval_errors: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Recorder {
    /// A recorder for a window starting at `measure_start` that keeps the `slowest` slowest.
    pub fn new(measure_start: Instant, window_start: SystemTime, slowest: usize) -> Recorder {
        Recorder {
            measure_start,
            window_start,
            latency: new_histogram(),
            service_time: new_histogram(),
            driver_lag: new_histogram(),
            counts: Counts::default(),
            slowest: Slowest::new(slowest),
            last_done: None,
            interval: new_histogram(),
            interval_start: measure_start,
            interval_completed: 0,
            interval_errors: 0,
        }
    }

    /// A request due in the measured window was not sent: the in-flight cap was reached.
    pub fn record_dropped(&mut self) {
        self.counts.dropped += 1;
    }

    /// Records one result; values beyond 60 s saturate at the top of the histogram.
    pub fn record_completion(&mut self, c: &Completion) {
        if c.due < self.measure_start {
            return;
        }
        self.last_done = Some(self.last_done.map_or(c.done, |last| last.max(c.done)));
        self.driver_lag
            .saturating_record(micros(c.sent.saturating_duration_since(c.due)));
        // A request that got no response (timeout, refused, reset) is recorded with the time it
        // took too: a hang costs its user up to the timeout, and leaving it out would make a
        // broken mode look fast.
        let latency = micros(c.done.saturating_duration_since(c.due));
        self.latency.saturating_record(latency);
        self.interval.saturating_record(latency);
        let service_time = micros(c.done.saturating_duration_since(c.sent));
        self.service_time.saturating_record(service_time);
        let measure_start = self.measure_start;
        self.slowest.offer(latency, || SlowRequest {
            due_ms: ms(micros(c.due - measure_start)),
            latency_ms: ms(latency),
            service_time_ms: ms(service_time),
            outcome: match &c.outcome {
                RequestOutcome::Response { code, .. } => code.to_string(),
                RequestOutcome::Failed(kind) => kind.clone(),
            },
            trace_id: match c.outcome {
                RequestOutcome::Response { trace, .. } => trace,
                RequestOutcome::Failed(_) => None,
            },
        });
        match &c.outcome {
            RequestOutcome::Response { code, ok, .. } => {
                self.counts.completed += 1;
                self.interval_completed += 1;
                *self.counts.status_counts.entry(*code).or_default() += 1;
                if !ok {
                    self.counts.errors += 1;
                    self.interval_errors += 1;
                }
            }
            RequestOutcome::Failed(kind) => {
                self.counts.errors += 1;
                self.interval_errors += 1;
                match self.counts.error_kinds.get_mut(kind) {
                    Some(n) => *n += 1,
                    None => {
                        self.counts.error_kinds.insert(kind.clone(), 1);
                    }
                }
            }
        }
    }

    /// Closes the current interval at `end` and starts the next one there.
    pub fn close_interval(&mut self, end: Instant) -> Interval {
        let fresh = new_histogram();
        let interval = Interval {
            window_start: self.window_start,
            start: self.interval_start - self.measure_start,
            length: end.saturating_duration_since(self.interval_start),
            latency: std::mem::replace(&mut self.interval, fresh),
            completed: std::mem::take(&mut self.interval_completed),
            errors: std::mem::take(&mut self.interval_errors),
            slowest: self.slowest.sorted(),
        };
        self.interval_start = end;
        interval
    }

    /// From the start of the measured window to the last response recorded.
    pub fn span_to_last_response(&self) -> Duration {
        self.last_done.map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(self.measure_start)
        })
    }

    /// True when the current interval has recorded anything.
    pub fn interval_has_data(&self) -> bool {
        self.interval_completed + self.interval_errors > 0
    }
}

/// Closes an interval every second of the measured window and hands each to `intervals`, until
/// `stop`; then closes the last, partial one if it holds anything.
pub async fn close_intervals(
    recorder: Rc<RefCell<Recorder>>,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
    stop: CancellationToken,
) {
    let measure_start = recorder.borrow().measure_start;
    let first = tokio::time::Instant::from_std(measure_start + Duration::from_secs(1));
    let mut ticks = tokio::time::interval_at(first, Duration::from_secs(1));
    let emit = |interval: Interval| {
        if let Some(tx) = &intervals {
            let _ = tx.send(interval); // a caller that stopped listening loses nothing we need
        }
    };
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            tick = ticks.tick() => emit(recorder.borrow_mut().close_interval(tick.into_std())),
        }
    }
    let now = Instant::now();
    let mut r = recorder.borrow_mut();
    if r.interval_has_data() && now > r.measure_start {
        emit(r.close_interval(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(
        due: Instant,
        lag_ms: u64,
        service_ms: u64,
        outcome: RequestOutcome,
    ) -> Completion {
        let sent = due + Duration::from_millis(lag_ms);
        Completion {
            due,
            sent,
            done: sent + Duration::from_millis(service_ms),
            outcome,
        }
    }

    #[test]
    fn three_histograms_split_lag_and_service_time() {
        let start = Instant::now();
        let mut r = Recorder::new(start, SystemTime::now(), 2);
        let ok = RequestOutcome::Response {
            code: ResponseCode::Http(200),
            ok: true,
            trace: None,
        };
        r.record_completion(&completion(start, 30, 2, ok.clone()));
        assert_eq!(r.latency.max(), r.latency.highest_equivalent(32_000));
        assert_eq!(
            r.service_time.max(),
            r.service_time.highest_equivalent(2_000)
        );
        assert_eq!(r.driver_lag.max(), r.driver_lag.highest_equivalent(30_000));
        // Warm-up results are not recorded; beyond 60 s saturates rather than failing.
        r.record_completion(&completion(
            start - Duration::from_secs(1),
            0,
            1,
            ok.clone(),
        ));
        assert_eq!(r.latency.len(), 1);
        r.record_completion(&completion(start, 0, 90_000, ok));
        assert_eq!(r.latency.len(), 2);
        assert!(r.latency.max() >= HIGHEST_US);
    }

    #[test]
    fn statuses_errors_and_intervals_are_counted() {
        let start = Instant::now();
        let mut r = Recorder::new(start, SystemTime::now(), 2);
        for (code, ok) in [(200, true), (409, true), (500, false), (200, true)] {
            let outcome = RequestOutcome::Response {
                code: ResponseCode::Http(code),
                ok,
                trace: None,
            };
            r.record_completion(&completion(start, 0, 1, outcome));
        }
        r.record_completion(&completion(
            start,
            0,
            1_000,
            RequestOutcome::Failed("no response within 1s".into()),
        ));
        r.record_dropped();
        assert_eq!(r.counts.completed, 4);
        assert_eq!(r.counts.errors, 2);
        assert_eq!(r.counts.dropped, 1);
        assert_eq!(r.counts.status_counts[&ResponseCode::Http(200)], 2);
        assert_eq!(r.counts.error_kinds["no response within 1s"], 1);
        // The timed-out request counts with the second it took, not as a missing value.
        assert_eq!(r.latency.max(), r.latency.highest_equivalent(1_000_000));
        let first = r.close_interval(start + Duration::from_secs(1));
        assert_eq!(
            (first.completed, first.errors, first.latency.len()),
            (4, 2, 5),
            "the failure's latency is recorded too"
        );
        assert_eq!(first.length, Duration::from_secs(1));
        let second = r.close_interval(start + Duration::from_millis(1500));
        assert_eq!(second.start, Duration::from_secs(1));
        assert_eq!(second.latency.len(), 0);
        assert!(!r.interval_has_data());
    }

    #[test]
    fn grpc_codes_have_canonical_names() {
        assert_eq!(ResponseCode::grpc(tonic::Code::Ok).to_string(), "grpc:OK");
        assert_eq!(
            ResponseCode::grpc(tonic::Code::AlreadyExists).to_string(),
            "grpc:ALREADY_EXISTS"
        );
        assert_eq!(ResponseCode::Http(409).to_string(), "409");
    }
}
