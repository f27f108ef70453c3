//! A series summarised over one measured window (warm-up excluded): mean, p95 and max of the
//! one-second samples, and CPU from cumulative CPU time, which is exact where one-second samples are
//! coarse (a /proc tick is 10 ms, i.e. 1% of a core per second).

use serde::{Deserialize, Serialize};

use super::{ResourceSource, Series};
use crate::results::ServiceResources;

/// Mean, 95th percentile (nearest rank) and maximum of some readings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub p95: f64,
    pub max: f64,
    /// How many readings went into it.
    pub n: usize,
}

impl Stat {
    /// `None` when there is no reading.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stat {
            mean: sorted.iter().sum::<f64>() / n as f64,
            p95: sorted[rank - 1],
            max: sorted[n - 1],
            n,
        })
    }
}

/// One service over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub service: String,
    pub source: ResourceSource,
    /// The window, unix milliseconds, start inclusive, end inclusive.
    pub start_unix_ms: i64,
    pub end_unix_ms: i64,
    /// Per-sample CPU, % of one core.
    pub cpu_pct: Option<Stat>,
    /// Per-sample memory, MiB.
    pub mem_mib: Option<Stat>,
    /// CPU seconds used between the first and last sample inside the window.
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` over the time between those two samples, % of one core.
    pub cpu_pct_exact: Option<f64>,
}

impl WindowSummary {
    /// Summarises the samples whose timestamps fall in `[start_unix_ms, end_unix_ms]`.
    pub fn of(series: &Series, start_unix_ms: i64, end_unix_ms: i64) -> WindowSummary {
        let inside: Vec<_> = series
            .samples
            .iter()
            .filter(|s| (start_unix_ms..=end_unix_ms).contains(&s.unix_ms))
            .collect();
        let cpu: Vec<f64> = inside.iter().filter_map(|s| s.cpu_pct).collect();
        let mem: Vec<f64> = inside
            .iter()
            .filter_map(|s| s.mem_bytes)
            .map(|b| b as f64 / (1024.0 * 1024.0))
            .collect();
        let timed: Vec<(i64, f64)> = inside
            .iter()
            .filter_map(|s| Some((s.unix_ms, s.cpu_seconds?)))
            .collect();
        let (cpu_seconds, cpu_pct_exact) = match (timed.first(), timed.last()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => {
                let used = c1 - c0;
                (Some(used), Some(used / ((t1 - t0) as f64 / 1000.0) * 100.0))
            }
            _ => (None, None),
        };
        WindowSummary {
            service: series.service.clone(),
            source: series.source,
            start_unix_ms,
            end_unix_ms,
            cpu_pct: Stat::of(&cpu),
            mem_mib: Stat::of(&mem),
            cpu_seconds,
            cpu_pct_exact,
        }
    }

    /// CPU seconds per 1,000 requests: unlike "% of a core", it does not depend on the rate.
    /// `None` without CPU time or requests.
    pub fn cpu_seconds_per_1k_requests(&self, requests: u64) -> Option<f64> {
        let seconds = self.cpu_seconds?;
        (requests > 0).then(|| seconds / requests as f64 * 1000.0)
    }
}

/// A series as a run result: the samples inside the window, the exact window CPU, and CPU per
/// 1,000 of the `requests` completed in the window.
pub fn service_resources(
    series: &Series,
    start_unix_ms: i64,
    end_unix_ms: i64,
    requests: u64,
) -> ServiceResources {
    let window = WindowSummary::of(series, start_unix_ms, end_unix_ms);
    ServiceResources {
        service: series.service.clone(),
        source: series.source,
        samples: series
            .samples
            .iter()
            .filter(|s| (start_unix_ms..=end_unix_ms).contains(&s.unix_ms))
            .cloned()
            .collect(),
        window_cpu_pct: window.cpu_pct_exact,
        cpu_seconds_per_1k_requests: window.cpu_seconds_per_1k_requests(requests),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Sample;

    fn series(points: &[(i64, f64, u64)]) -> Series {
        Series {
            service: "svc".into(),
            source: ResourceSource::Proc,
            mem_limit_bytes: None,
            samples: points
                .iter()
                .map(|&(t, cpu_s, mem)| Sample {
                    unix_ms: t,
                    cpu_pct: Some(cpu_s * 10.0),
                    cpu_seconds: Some(cpu_s),
                    mem_bytes: Some(mem * 1024 * 1024),
                })
                .collect(),
        }
    }

    #[test]
    fn stat_uses_nearest_rank_p95() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Stat::of(&values).unwrap();
        assert_eq!((s.mean, s.p95, s.max, s.n), (50.5, 95.0, 100.0, 100));
        assert_eq!(Stat::of(&[3.0]).unwrap().p95, 3.0);
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn window_excludes_warm_up_and_cpu_is_exact_from_cumulative_time() {
        let s = series(&[
            (0, 0.0, 100),
            (1000, 5.0, 100),
            (2000, 5.5, 10),
            (4000, 6.5, 30),
        ]);
        let w = WindowSummary::of(&s, 1000, 4000);
        assert_eq!(w.cpu_seconds, Some(1.5));
        // 1.5 CPU seconds over 3 s: half a core.
        assert_eq!(w.cpu_pct_exact, Some(50.0));
        assert_eq!(w.mem_mib.unwrap().max, 100.0);
        assert_eq!(w.mem_mib.unwrap().n, 3);
        assert_eq!(w.cpu_seconds_per_1k_requests(3000), Some(0.5));
        assert_eq!(w.cpu_seconds_per_1k_requests(0), None);
        let r = service_resources(&s, 1000, 4000, 3000);
        assert_eq!(r.samples.len(), 3);
        assert_eq!(r.window_cpu_pct, Some(50.0));
        assert_eq!(r.cpu_seconds_per_1k_requests, Some(0.5));
    }

    #[test]
    fn an_empty_window_has_no_figures() {
        let w = WindowSummary::of(&series(&[(0, 1.0, 1)]), 10, 20);
        assert_eq!((w.cpu_pct, w.mem_mib, w.cpu_seconds), (None, None, None));
    }
}
