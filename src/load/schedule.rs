//! The arrival schedule and the one scheduler that follows it. Request *i* is due at a fixed
//! offset from the run's start, computed from *i* (uniform) or from a seeded sum of exponential
//! gaps (Poisson), never from when the previous request finished: that is what makes the driver
//! open-loop. The scheduler is a task on the driver's thread: it wakes on a precise [`Timer`] at
//! most once per [`TICK`], puts every request then due on the [`Queue`], and the idle
//! connections take them from there on the same thread: no lock, no cross-thread wake-up.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::record::Recorder;
use super::timer::Timer;

/// How due times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exactly `1 / rate` apart.
    #[default]
    Uniform,
    /// Exponentially distributed gaps with mean `1 / rate` (a Poisson process).
    Poisson,
}

impl FromStr for Arrivals {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uniform" => Ok(Arrivals::Uniform),
            "poisson" => Ok(Arrivals::Poisson),
            other => Err(format!(
                "unknown arrivals `{other}`: expected `uniform` or `poisson`"
            )),
        }
    }
}

/// The rates the driver takes, in requests per second: from one request per 1,000 s (slower is a
/// wait, not a load) to a million a second (far beyond what one driver thread sends, and every
/// due offset and request count stays finite).
pub const RATES: std::ops::RangeInclusive<f64> = 0.001..=1_000_000.0;

/// The longest duration tracebench takes anywhere (a cell, a warm-up, a timeout, a window): 30
/// days. Longer is a typo, and every loop stays bounded in time.
pub const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);

/// `rate` when it is in [`RATES`], else what was expected.
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if RATES.contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "expected requests per second from {} to {}, got {rate:?}",
            RATES.start(),
            RATES.end()
        ))
    }
}

/// A humantime duration (`10s`, `1m 30s`, `500ms`) of at most [`LONGEST`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|_| {
        format!("expected a duration such as \"10s\", \"500ms\" or \"1m 30s\", got {s:?}")
    })?;
    if d > LONGEST {
        return Err(format!("expected at most 30 days, got {s:?}"));
    }
    Ok(d)
}

/// Due offsets from the run's start, in order: `(seq, offset)`.
pub struct Schedule {
    rate: f64,
    poisson: Option<(StdRng, f64)>,
    next_seq: u64,
    /// Added to every offset: a shard's place in the schedule of all shards.
    phase: f64,
}

impl Schedule {
    /// `seed` makes Poisson arrivals reproducible; it is ignored for uniform arrivals.
    pub fn new(rate: f64, arrivals: Arrivals, seed: u64) -> Schedule {
        let poisson = match arrivals {
            Arrivals::Uniform => None,
            Arrivals::Poisson => Some((StdRng::seed_from_u64(seed), 0.0)),
        };
        Schedule {
            rate,
            poisson,
            next_seq: 0,
            phase: 0.0,
        }
    }

    /// The schedule with every offset `phase` later.
    pub fn with_phase(mut self, phase: Duration) -> Schedule {
        self.phase = phase.as_secs_f64();
        self
    }
}

/// One of `count` drivers sharing a total rate: shard `index` (0-based) of a schedule at the
/// total rate sends every `count`-th request of it, so together the shards send exactly the one
/// schedule (uniform arrivals interleave; Poisson ones add up to a Poisson process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// This shard's own rate, of `total_rate` for all shards.
    pub fn rate(&self, total_rate: f64) -> f64 {
        total_rate / f64::from(self.count)
    }

    /// How much later than the shared start this shard's first request is due: its place among
    /// the shards (uniform arrivals only; Poisson shards start together).
    pub fn phase(&self, total_rate: f64, arrivals: Arrivals) -> Duration {
        match arrivals {
            Arrivals::Uniform => Duration::from_secs_f64(f64::from(self.index) / total_rate),
            Arrivals::Poisson => Duration::ZERO,
        }
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let expected = || {
            format!(
                "expected a shard as INDEX/COUNT with 0 <= INDEX < COUNT, such as 0/3; got {s:?}"
            )
        };
        let (index, count) = s.split_once('/').ok_or_else(expected)?;
        let index: u32 = index.trim().parse().map_err(|_| expected())?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        if index >= count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }
}

impl Iterator for Schedule {
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let offset_s = match &mut self.poisson {
            None => seq as f64 / self.rate,
            Some((rng, at)) => {
                let current = *at;
                // Inverse transform: -ln(1 - u) / rate, u in [0, 1), is Exp(rate).
                *at += -(1.0 - rng.random::<f64>()).ln() / self.rate;
                current
            }
        };
        // Saturates rather than panics at a rate outside [`RATES`]: such a request is never due.
        let offset = Duration::try_from_secs_f64(offset_s + self.phase).unwrap_or(Duration::MAX);
        Some((seq, offset))
    }
}

/// A request handed to a connection: its number and when it was due.
pub struct Ticket {
    pub seq: u64,
    pub due: Instant,
}

/// The due requests waiting for a connection, and the in-flight cap: requests queued or on the
/// wire. Shared by the scheduler and the connections on the driver's thread.
pub struct Queue {
    tickets: RefCell<VecDeque<Ticket>>,
    in_flight: Cell<usize>,
    max_in_flight: usize,
    closed: Cell<bool>,
    ready: Notify,
}

impl Queue {
    pub fn new(max_in_flight: usize) -> Queue {
        Queue {
            tickets: RefCell::new(VecDeque::new()),
            in_flight: Cell::new(0),
            max_in_flight,
            closed: Cell::new(false),
            ready: Notify::new(),
        }
    }

    /// Queues `ticket` for the next idle connection; false (and nothing queued) at the cap.
    fn offer(&self, ticket: Ticket) -> bool {
        if self.in_flight.get() >= self.max_in_flight {
            return false;
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.tickets.borrow_mut().push_back(ticket);
        self.ready.notify_one();
        true
    }

    /// The oldest waiting ticket; `None` once the queue is closed and empty.
    pub async fn take(&self) -> Option<Ticket> {
        loop {
            if let Some(ticket) = self.tickets.borrow_mut().pop_front() {
                return Some(ticket);
            }
            if self.closed.get() {
                return None;
            }
            self.ready.notified().await;
        }
    }

    /// A taken ticket's result is recorded: it no longer counts against the cap.
    pub fn done(&self) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
    }

    /// No more tickets will come: connections finish what is queued, then stop.
    pub fn close(&self) {
        self.closed.set(true);
        self.ready.notify_waiters();
    }
}

/// What the scheduler did, for the summary.
pub struct SchedulerReport {
    /// Requests due in the measured window that were handed to a connection (not dropped).
    pub sent_measured: u64,
    /// The request number after the last one scheduled (sent or dropped, warm-up included).
    pub next_seq: u64,
    /// When scheduling stopped: the end of the schedule, or the shutdown.
    pub stopped_at: Instant,
    pub cancelled: bool,
}

/// The shortest sleep of the scheduler: above 5,000 req/s (uniform) requests due within one tick
/// go out together, up to 200 µs late (driver lag, inside the corrected latency), for one wake-up
/// per tick instead of per request (README, Measured).
const TICK: Duration = Duration::from_micros(200);

/// After this many requests without a sleep (the driver has fallen behind), the scheduler lets
/// the connections run before it queues or drops more.
const MOST_WITHOUT_YIELD: u32 = 256;

/// Where the scheduler puts its work and what it needs to decide.
pub struct Scheduler {
    pub schedule: Schedule,
    /// The number (`{seq}`) of the schedule's first request: numbers continue across runs that
    /// must not repeat a request body (a run's warm-up, cells and rounds).
    pub first_seq: u64,
    pub start: Instant,
    pub measure_start: Instant,
    pub end: Instant,
    pub queue: Rc<Queue>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub shutdown: CancellationToken,
}

impl Scheduler {
    /// Runs the schedule to its end or until shutdown, then closes the queue.
    pub async fn run(mut self) -> std::io::Result<SchedulerReport> {
        let report = self.follow().await;
        self.queue.close();
        report
    }

    async fn follow(&mut self) -> std::io::Result<SchedulerReport> {
        let timer = Timer::new()?;
        let mut sent_measured = 0;
        let mut next_seq = self.first_seq;
        let mut woke = Instant::now();
        let mut without_sleep = 0;
        let cancelled = |sent_measured, next_seq| SchedulerReport {
            sent_measured,
            next_seq,
            stopped_at: Instant::now(),
            cancelled: true,
        };
        for (index, offset) in self.schedule.by_ref() {
            let due = match self.start.checked_add(offset) {
                Some(due) if due < self.end => due,
                _ => break,
            };
            if due > Instant::now() {
                // At most one wake-up per TICK: requests due closer together go out together.
                tokio::select! {
                    biased;
                    () = self.shutdown.cancelled() => return Ok(cancelled(sent_measured, next_seq)),
                    slept = timer.sleep_until(due.max(woke + TICK)) => slept?,
                }
                woke = Instant::now();
                without_sleep = 0;
            } else if without_sleep == MOST_WITHOUT_YIELD {
                tokio::task::yield_now().await;
                if self.shutdown.is_cancelled() {
                    return Ok(cancelled(sent_measured, next_seq));
                }
                without_sleep = 0;
            }
            without_sleep += 1;
            let seq = self.first_seq + index;
            next_seq = seq + 1;
            let measured = due >= self.measure_start;
            if self.queue.offer(Ticket { seq, due }) {
                sent_measured += u64::from(measured);
            } else if measured {
                // At the cap: count it and keep the schedule, rather than slowing down.
                self.recorder.borrow_mut().record_dropped();
            }
        }
        Ok(SchedulerReport {
            sent_measured,
            next_seq,
            stopped_at: Instant::now().min(self.end),
            cancelled: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_of_a_uniform_schedule_interleave_into_it_exactly() {
        let total = 3000.0;
        let mut all: Vec<Duration> = (0..3)
            .flat_map(|i| {
                let shard: Shard = format!("{i}/3").parse().unwrap();
                let schedule = Schedule::new(shard.rate(total), Arrivals::Uniform, 1)
                    .with_phase(shard.phase(total, Arrivals::Uniform));
                schedule.take(1000).map(|(_, at)| at).collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        let one: Vec<Duration> = Schedule::new(total, Arrivals::Uniform, 1)
            .take(3000)
            .map(|(_, at)| at)
            .collect();
        for (a, b) in all.iter().zip(&one) {
            assert!(
                a.abs_diff(*b) < Duration::from_nanos(10),
                "{a:?} against {b:?}"
            );
        }
        for bad in ["3/3", "1", "a/2", "-1/2", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uniform_offsets_are_i_over_rate_without_drift() {
        let offsets: Vec<_> = Schedule::new(3.0, Arrivals::Uniform, 0).take(4).collect();
        assert_eq!(offsets[0], (0, Duration::ZERO));
        assert_eq!(offsets[3], (3, Duration::from_secs(1)));
        let far = Schedule::new(3.0, Arrivals::Uniform, 0)
            .nth(3_000_000)
            .unwrap();
        assert_eq!(far.1, Duration::from_secs(1_000_000));
    }

    #[test]
    fn poisson_gaps_average_one_over_rate_and_vary() {
        let n = 20_000;
        let offsets: Vec<_> = Schedule::new(100.0, Arrivals::Poisson, 7)
            .take(n)
            .map(|(_, d)| d.as_secs_f64())
            .collect();
        let mean_gap = offsets[n - 1] / (n - 1) as f64;
        // The mean of 20,000 Exp(100) gaps has a standard error of 0.01 / sqrt(20,000) = 7e-5 s.
        assert!((mean_gap - 0.01).abs() < 5e-4, "mean gap {mean_gap}");
        let gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g >= 0.0));
        // Exponential: about e^-2 = 13.5% of gaps exceed twice the mean; uniform gaps never do.
        let long = gaps.iter().filter(|g| **g > 0.02).count() as f64 / gaps.len() as f64;
        assert!((0.11..0.16).contains(&long), "share of long gaps {long}");
    }

    #[test]
    fn rates_and_durations_outside_the_bounds_are_refused_not_panicked_on() {
        assert_eq!(check_rate(0.001), Ok(0.001));
        assert_eq!(check_rate(1e6), Ok(1e6));
        for bad in [0.0, -5.0, 1e-300, 2e6, f64::NAN, f64::INFINITY] {
            let err = check_rate(bad).unwrap_err();
            assert!(err.contains("0.001 to 1000000"), "{err}");
        }
        assert_eq!(parse_duration("30days"), Ok(LONGEST));
        assert!(
            parse_duration("31days")
                .unwrap_err()
                .contains("at most 30 days")
        );
        assert!(parse_duration("soon").unwrap_err().contains("\"soon\""));
        // A schedule built at a rate no check let through saturates instead of panicking.
        let (_, offset) = Schedule::new(1e-300, Arrivals::Uniform, 0).nth(1).unwrap();
        assert_eq!(offset, Duration::MAX);
    }

    #[test]
    fn arrivals_parse_with_a_helpful_error() {
        assert_eq!("poisson".parse::<Arrivals>(), Ok(Arrivals::Poisson));
        let err = "burst".parse::<Arrivals>().unwrap_err();
        assert!(err.contains("uniform") && err.contains("burst"), "{err}");
    }
}
