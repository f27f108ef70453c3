//! The slowest requests of a run, kept so that a report can say which traces to look at. A
//! fixed handful (default 10) in a small array: a request slower than the fastest kept one
//! replaces it, every other request costs one comparison, and memory does not grow with the
//! run.

use serde::{Deserialize, Serialize};

use super::trace_id::TraceId;

/// How many of the slowest requests a run keeps unless told otherwise.
pub const DEFAULT_SLOWEST: usize = 10;

/// One of the slowest requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRequest {
    /// When it was due, from the start of the measured window, ms.
    pub due_ms: f64,
    /// Completion minus due time (what its user saw), ms.
    pub latency_ms: f64,
    /// Completion minus send, ms; the rest of the latency is the driver's lag.
    pub service_time_ms: f64,
    /// Its status (`201`, `grpc:OK`) or, without a response, what went wrong.
    pub outcome: String,
    /// The trace the response named in its trace header, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
}

/// The `keep` slowest requests seen so far, by latency in µs.
#[derive(Debug, Clone)]
pub struct Slowest {
    keep: usize,
    kept: Vec<(u64, SlowRequest)>,
    /// The smallest latency kept once `kept` is full: what a request must beat.
    bar: u64,
}

impl Slowest {
    pub fn new(keep: usize) -> Slowest {
        Slowest {
            keep,
            kept: Vec::with_capacity(keep),
            bar: 0,
        }
    }

    /// Offers a request of `latency_us`; `request` is built only when it is kept.
    #[inline]
    pub fn offer(&mut self, latency_us: u64, request: impl FnOnce() -> SlowRequest) {
        if self.kept.len() < self.keep {
            self.kept.push((latency_us, request()));
            if self.kept.len() == self.keep {
                self.raise_bar();
            }
        } else if latency_us > self.bar && self.keep > 0 {
            let fastest = self
                .kept
                .iter()
                .position(|(l, _)| *l == self.bar)
                .expect("the bar is a kept latency");
            self.kept[fastest] = (latency_us, request());
            self.raise_bar();
        }
    }

    fn raise_bar(&mut self) {
        self.bar = self.kept.iter().map(|(l, _)| *l).min().unwrap_or(0);
    }

    /// The requests kept, slowest first (ties: the earlier due first).
    pub fn sorted(&self) -> Vec<SlowRequest> {
        let mut kept = self.kept.clone();
        kept.sort_by(|(a, ra), (b, rb)| b.cmp(a).then(ra.due_ms.total_cmp(&rb.due_ms)));
        kept.into_iter().map(|(_, r)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(latency_us: u64, due_ms: f64) -> SlowRequest {
        SlowRequest {
            due_ms,
            latency_ms: latency_us as f64 / 1000.0,
            service_time_ms: 0.0,
            outcome: "200".into(),
            trace_id: None,
        }
    }

    #[test]
    fn keeps_the_slowest_whatever_the_order() {
        // 1,000 latencies in a scrambled order; the 5 largest are 995..=999 ms.
        let mut slowest = Slowest::new(5);
        let mut built = 0;
        for i in 0..1000u64 {
            let latency = (i * 7919) % 1000 * 1000;
            slowest.offer(latency, || {
                built += 1;
                request(latency, i as f64)
            });
        }
        let kept: Vec<f64> = slowest.sorted().iter().map(|r| r.latency_ms).collect();
        assert_eq!(kept, vec![999.0, 998.0, 997.0, 996.0, 995.0]);
        assert!(built < 100, "a request is built only when kept: {built}");
    }

    #[test]
    fn ties_keep_the_earlier_and_zero_keeps_nothing() {
        let mut slowest = Slowest::new(2);
        for due in 0..4 {
            slowest.offer(5, || request(5, f64::from(due)));
        }
        let dues: Vec<f64> = slowest.sorted().iter().map(|r| r.due_ms).collect();
        assert_eq!(dues, vec![0.0, 1.0]);
        let mut none = Slowest::new(0);
        none.offer(9, || request(9, 0.0));
        assert!(none.sorted().is_empty());
    }
}
