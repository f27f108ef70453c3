//! Latency and throughput statistics of a group of cells, and their bootstrap replicates.
//!
//! Method: a stratified bootstrap over per-second records. One resample draws, within each
//! cell (round), as many seconds as the cell has, with replacement; merges their sparse latency
//! histograms; and computes the percentiles from the merged buckets exactly as HdrHistogram
//! does. Seconds, not requests, are resampled because requests within a second share the
//! system's momentary state (GC, a noisy neighbour); resampling within each round keeps every
//! round's weight fixed (rounds are strata, so variation between rounds is not in the interval). To keep this fast, a group's bucket values are mapped once to a dense
//! index and a resample is a weighted sum of per-second count vectors.

use rand::rngs::StdRng;

use super::stats::draw_weights;
use crate::results::{CellResult, SparseHistogram};

/// The statistics one resample yields, in this order.
pub const STAT_NAMES: [&str; 6] = ["p50", "p90", "p99", "p999", "mean", "throughput"];
const QUANTILES: [f64; 4] = [0.50, 0.90, 0.99, 0.999];
/// Index of the mean latency and of throughput in a [`Stats`] array.
pub const MEAN: usize = 4;
pub const THROUGHPUT: usize = 5;

/// p50, p90, p99, p999, mean (ms) and throughput (completed per second).
pub type Stats = [f64; 6];

/// The index of a statistic by name (`p50` ... `mean`, `throughput`).
pub fn stat_index(name: &str) -> Option<usize> {
    STAT_NAMES.iter().position(|&n| n == name)
}

/// One second as (dense bucket index, count) pairs.
struct Second {
    buckets: Vec<(u32, u64)>,
    completed: u64,
}

/// The per-second records of a group's cells, ready to resample.
pub struct LatencySample {
    /// Sorted distinct bucket values (us) of every histogram in the group.
    values: Vec<u64>,
    /// Seconds per stratum (cell).
    strata: Vec<Vec<Second>>,
    /// The whole-window histograms, for the point estimates.
    whole: Vec<Vec<(u32, u64)>>,
    /// Completed requests and window seconds over all cells, for the throughput point estimate.
    completed: u64,
    window_s: f64,
}

impl LatencySample {
    /// All seconds of `cells`, one stratum per cell, keeping only the seconds `keep` accepts
    /// (used to split a group into halves for the noise floor).
    pub fn new(cells: &[&CellResult], keep: impl Fn(u32) -> bool) -> LatencySample {
        let mut values: Vec<u64> = cells
            .iter()
            .flat_map(|c| {
                let seconds = c.seconds.iter().map(|s| &s.latency_us);
                std::iter::once(&c.latency).chain(seconds)
            })
            .flat_map(|h| h.buckets.iter().map(|&(v, _)| v))
            .collect();
        values.sort_unstable();
        values.dedup();
        let dense = |h: &SparseHistogram| -> Vec<(u32, u64)> {
            h.buckets
                .iter()
                .filter_map(|&(v, c)| Some((values.binary_search(&v).ok()? as u32, c)))
                .collect()
        };
        let strata: Vec<Vec<Second>> = cells
            .iter()
            .map(|c| {
                c.seconds
                    .iter()
                    .filter(|s| keep(s.offset_s))
                    .map(|s| Second {
                        buckets: dense(&s.latency_us),
                        completed: s.completed,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect();
        let split = cells
            .iter()
            .any(|c| c.seconds.iter().any(|s| !keep(s.offset_s)));
        // A half has no whole-window histogram: its point estimate comes from its seconds.
        let whole = if split {
            strata.iter().flatten().map(|s| s.buckets.clone()).collect()
        } else {
            cells.iter().map(|c| dense(&c.latency)).collect()
        };
        let (completed, window_s) = if split {
            let seconds = strata.iter().map(Vec::len).sum::<usize>();
            (
                strata.iter().flatten().map(|s| s.completed).sum(),
                seconds as f64,
            )
        } else {
            let window = |c: &&CellResult| (c.window_end_unix_ms - c.window_start_unix_ms) as f64;
            (
                cells.iter().map(|c| c.completed).sum(),
                cells.iter().map(window).sum::<f64>() / 1000.0,
            )
        };
        LatencySample {
            values,
            strata,
            whole,
            completed,
            window_s,
        }
    }

    /// Seconds available for resampling.
    pub fn seconds(&self) -> usize {
        self.strata.iter().map(Vec::len).sum()
    }

    /// The statistics of the whole group (its whole-window histograms merged), and the largest
    /// latency in ms.
    pub fn point(&self) -> (Stats, f64) {
        let mut counts = vec![0u64; self.values.len()];
        for h in &self.whole {
            for &(i, c) in h {
                counts[i as usize] += c;
            }
        }
        let max = counts
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0.0, |i| self.values[i] as f64 / 1000.0);
        let throughput = if self.window_s > 0.0 {
            self.completed as f64 / self.window_s
        } else {
            0.0
        };
        (self.stats(&counts, throughput), max)
    }

    /// `resamples` bootstrap replicates of the statistics.
    pub fn bootstrap(&self, rng: &mut StdRng, resamples: u32) -> Vec<Stats> {
        let mut counts = vec![0u64; self.values.len()];
        let mut weights = Vec::new();
        let seconds = self.seconds().max(1) as f64;
        (0..resamples)
            .map(|_| {
                counts.fill(0);
                let mut completed = 0;
                for stratum in &self.strata {
                    draw_weights(rng, stratum.len(), &mut weights);
                    for (second, &w) in stratum.iter().zip(&weights) {
                        if w == 0 {
                            continue;
                        }
                        completed += second.completed * u64::from(w);
                        for &(i, c) in &second.buckets {
                            counts[i as usize] += c * u64::from(w);
                        }
                    }
                }
                self.stats(&counts, completed as f64 / seconds)
            })
            .collect()
    }

    /// Percentiles as HdrHistogram's `value_at_quantile` picks them (the first bucket whose
    /// cumulative count reaches ceil(q x total)) and the mean, in ms; zeros when empty.
    fn stats(&self, counts: &[u64], throughput: f64) -> Stats {
        let mut out = [0.0; 6];
        out[THROUGHPUT] = throughput;
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return out;
        }
        let targets = QUANTILES.map(|q| ((q * total as f64).ceil() as u64).max(1));
        let (mut cumulative, mut next, mut sum) = (0u64, 0usize, 0.0);
        for (&v, &c) in self.values.iter().zip(counts) {
            if c == 0 {
                continue;
            }
            cumulative += c;
            sum += v as f64 * c as f64;
            while next < targets.len() && cumulative >= targets[next] {
                out[next] = v as f64 / 1000.0;
                next += 1;
            }
        }
        out[MEAN] = sum / total as f64 / 1000.0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use rand::SeedableRng;

    use crate::results::{Percentiles, SecondRecord};

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn cell(seconds: Vec<Vec<u64>>) -> CellResult {
        let all = hist(seconds.iter().flatten().copied());
        let n = seconds.len() as i64;
        CellResult {
            mode: "off".into(),
            rate: 10.0,
            round: 0,
            order: 0,
            window_start_unix_ms: 0,
            window_end_unix_ms: n * 1000,
            achieved_rate: 10.0,
            sent: all.len(),
            completed: all.len(),
            ok: all.len(),
            errors: 0,
            dropped: 0,
            status_counts: Default::default(),
            latency_ms: Percentiles::from_hdr_us(&all),
            service_time_ms: Percentiles::default(),
            driver_lag_ms: Percentiles::default(),
            latency: SparseHistogram::from_hdr(&all),
            seconds: seconds
                .iter()
                .enumerate()
                .map(|(i, v)| SecondRecord {
                    offset_s: i as u32,
                    completed: v.len() as u64,
                    errors: 0,
                    latency_us: SparseHistogram::from_hdr(&hist(v.iter().copied())),
                })
                .collect(),
            resources: vec![],
            partial: false,
        }
    }

    #[test]
    fn point_percentiles_match_hdrhistogram() {
        let seconds: Vec<Vec<u64>> = (0..10)
            .map(|s| (0..97).map(|i| 500 + s * 37 + i * i * 3).collect())
            .collect();
        let c = cell(seconds);
        let sample = LatencySample::new(&[&c], |_| true);
        let (stats, max) = sample.point();
        let expected = c.latency_ms;
        assert_eq!(stats[0], expected.p50);
        assert_eq!(stats[1], expected.p90);
        assert_eq!(stats[2], expected.p99);
        assert_eq!(stats[3], expected.p999);
        assert_eq!(max, expected.max);
        assert!((stats[MEAN] - expected.mean).abs() / expected.mean < 1e-3);
        assert!((stats[THROUGHPUT] - 97.0).abs() < 1e-9);
    }

    #[test]
    fn bootstrap_of_identical_seconds_has_no_spread_and_halves_split_by_offset() {
        let c = cell(vec![vec![1000, 2000, 3000]; 8]);
        let sample = LatencySample::new(&[&c], |_| true);
        let mut rng = StdRng::seed_from_u64(7);
        let reps = sample.bootstrap(&mut rng, 50);
        assert_eq!(reps.len(), 50);
        assert!(reps.iter().all(|r| r[0] == 2.0 && r[THROUGHPUT] == 3.0));
        let even = LatencySample::new(&[&c], |s| s % 2 == 0);
        assert_eq!(even.seconds(), 4);
        assert_eq!(even.point().0[THROUGHPUT], 3.0);
        assert_eq!(stat_index("p99"), Some(2));
    }
}
