//! A series summarised over one measured window (warm-up excluded): mean, p95 and max of the
//! one-second samples, and CPU between the first and last of them from cumulative CPU time (what
//! `tracebench stats` shows live). A cell's result takes its window CPU from the counters read at
//! the window's edges instead ([`super::window_cpu`]).

use serde::{Deserialize, Serialize};

use super::{ResourceSource, Sample, Series, WindowCpu};
use crate::results::{CpuCounter, ServiceResources};

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
        let inside: Vec<_> = inside(series, start_unix_ms, end_unix_ms).collect();
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
        per_1k_requests(self.cpu_seconds?, requests)
    }
}

/// A series as a run result: the samples inside the window, and the window's CPU read at its
/// edges (`window_cpu`; without it, the analysis falls back on the samples) as % of a core and
/// per 1,000 of the `requests` completed in the window.
pub fn service_resources(
    series: &Series,
    start_unix_ms: i64,
    end_unix_ms: i64,
    window_cpu: Option<WindowCpu>,
    requests: u64,
) -> ServiceResources {
    ServiceResources {
        service: series.service.clone(),
        source: series.source,
        samples: inside(series, start_unix_ms, end_unix_ms)
            .cloned()
            .collect(),
        window_cpu_pct: window_cpu.map(|w| w.pct),
        window_cpu_seconds: window_cpu.map(|w| w.seconds),
        cpu_counter: window_cpu.map_or(CpuCounter::Samples, |w| w.counter),
        cpu_seconds_per_1k_requests: window_cpu.and_then(|w| per_1k_requests(w.seconds, requests)),
    }
}

/// The samples whose timestamps fall in `[start_unix_ms, end_unix_ms]`.
fn inside(series: &Series, start_unix_ms: i64, end_unix_ms: i64) -> impl Iterator<Item = &Sample> {
    series
        .samples
        .iter()
        .filter(move |s| (start_unix_ms..=end_unix_ms).contains(&s.unix_ms))
}

/// CPU seconds per 1,000 requests; `None` without requests.
fn per_1k_requests(cpu_seconds: f64, requests: u64) -> Option<f64> {
    (requests > 0).then(|| cpu_seconds / requests as f64 * 1000.0)
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
    }

    #[test]
    fn a_results_cpu_is_the_edges_not_the_samples() {
        let s = series(&[(0, 0.0, 100), (1000, 5.0, 100), (4000, 6.5, 30)]);
        let edges = WindowCpu {
            counter: CpuCounter::CgroupV2,
            seconds: 0.09,
            pct: 3.0,
        };
        let r = service_resources(&s, 1000, 4000, Some(edges), 3000);
        assert_eq!(r.samples.len(), 2);
        assert_eq!(r.window_cpu_pct, Some(3.0));
        assert_eq!(r.window_cpu_seconds, Some(0.09));
        assert_eq!(r.cpu_counter, CpuCounter::CgroupV2);
        assert_eq!(r.cpu_seconds_per_1k_requests, Some(0.03));
        let r = service_resources(&s, 1000, 4000, None, 3000);
        assert_eq!(r.window_cpu_pct, None);
        assert_eq!(r.cpu_seconds_per_1k_requests, None);
        assert_eq!(r.cpu_counter, CpuCounter::Samples);
    }

    #[test]
    fn results_written_before_the_edges_still_load() {
        let old = r#"{"service":"auth","source":"proc","samples":[],"window_cpu_pct":2.5,
            "cpu_seconds_per_1k_requests":0.1}"#;
        let r: ServiceResources = serde_json::from_str(old).unwrap();
        assert_eq!(r.cpu_counter, CpuCounter::Samples);
        assert_eq!((r.window_cpu_pct, r.window_cpu_seconds), (Some(2.5), None));
        let json = serde_json::to_value(CpuCounter::ProcessClock).unwrap();
        assert_eq!(json, "process_clock");
    }

    #[test]
    fn an_empty_window_has_no_figures() {
        let w = WindowSummary::of(&series(&[(0, 1.0, 1)]), 10, 20);
        assert_eq!((w.cpu_pct, w.mem_mib, w.cpu_seconds), (None, None, None));
    }
}
