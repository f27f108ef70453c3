//! The arrival schedule and the one scheduler that follows it. Request *i* is due at a fixed
//! offset from the run's start, computed from *i* (uniform) or from a seeded sum of exponential
//! gaps (Poisson), never from when the previous request finished: that is what makes the driver
//! open-loop. The scheduler is a plain OS thread sleeping until absolute due times, because
//! tokio's timer has a 1 ms granularity, which alone would make the driver's lag about 1 ms.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::record::SharedRecorder;

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

/// Due offsets from the run's start, in order: `(seq, offset)`.
pub struct Schedule {
    rate: f64,
    poisson: Option<(StdRng, f64)>,
    next_seq: u64,
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
        }
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
        Some((seq, Duration::from_secs_f64(offset_s)))
    }
}

/// A request handed to a connection: when it was due, and its share of the in-flight cap.
pub struct Ticket {
    pub seq: u64,
    pub due: Instant,
    pub permit: tokio::sync::OwnedSemaphorePermit,
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

/// Where the scheduler sends its work and what it needs to decide.
pub struct Scheduler {
    pub schedule: Schedule,
    /// The number (`{seq}`) of the schedule's first request: numbers continue across runs that
    /// must not repeat a request body (a run's warm-up, cells and rounds).
    pub first_seq: u64,
    pub start: Instant,
    pub measure_start: Instant,
    pub end: Instant,
    pub in_flight: Arc<Semaphore>,
    pub work: mpsc::UnboundedSender<Ticket>,
    pub recorder: SharedRecorder,
    pub shutdown: CancellationToken,
}

impl Scheduler {
    /// Runs the schedule to its end or until shutdown. Blocking: call it on its own thread.
    pub fn run(self) -> SchedulerReport {
        precise_sleeps();
        let mut sent_measured = 0;
        let mut next_seq = self.first_seq;
        let mut woke = Instant::now();
        for (index, offset) in self.schedule {
            let due = self.start + offset;
            if due >= self.end {
                break;
            }
            if due > Instant::now() {
                // At most one wake-up per TICK: requests due closer together go out together.
                if !sleep_until(due.max(woke + TICK), &self.shutdown) {
                    return SchedulerReport {
                        sent_measured,
                        next_seq,
                        stopped_at: Instant::now(),
                        cancelled: true,
                    };
                }
                woke = Instant::now();
            }
            if !sleep_until(due, &self.shutdown) {
                return SchedulerReport {
                    sent_measured,
                    next_seq,
                    stopped_at: Instant::now(),
                    cancelled: true,
                };
            }
            let seq = self.first_seq + index;
            next_seq = seq + 1;
            let measured = due >= self.measure_start;
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                // At the cap: count it and keep the schedule, rather than slowing down.
                if measured {
                    self.recorder.lock().record_dropped();
                }
                continue;
            };
            if self.work.send(Ticket { seq, due, permit }).is_err() {
                break; // every connection is gone; the run is ending
            }
            sent_measured += u64::from(measured);
        }
        SchedulerReport {
            sent_measured,
            next_seq,
            stopped_at: Instant::now().min(self.end),
            cancelled: false,
        }
    }
}

/// Asks Linux to wake this thread within 1 µs of a sleep's end instead of the default 50 µs
/// timer slack, which would add up to 50 µs to the driver's lag. Best effort: without it the
/// driver still works, a little later.
/// The shortest sleep of the scheduler thread: above 5,000 req/s (uniform) requests due within
/// one tick go out together, up to 200 µs late (driver lag, inside the corrected latency), for a
/// thread wake-up per tick instead of per request. Measured at 20,000 req/s: 24-28 µs of CPU per
/// request instead of 43-45, driver lag p99 0.28-0.30 ms instead of 0.09 (README, Measured).
const TICK: Duration = Duration::from_micros(200);

fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes a plain integer and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Sleeps until `deadline`; false when shutdown came first. Sleeps in slices so a shutdown is
/// noticed within 50 ms even at very low rates.
fn sleep_until(deadline: Instant, shutdown: &CancellationToken) -> bool {
    const SLICE: Duration = Duration::from_millis(50);
    loop {
        if shutdown.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn arrivals_parse_with_a_helpful_error() {
        assert_eq!("poisson".parse::<Arrivals>(), Ok(Arrivals::Poisson));
        let err = "burst".parse::<Arrivals>().unwrap_err();
        assert!(err.contains("uniform") && err.contains("burst"), "{err}");
    }
}
