//! Figures per cell, and their means over rounds with a t interval (a group's levels; overheads
//! come from the crossover model in [`super::crossover`]).
//!
//! Method: rounds are the replicates. Every service restarts for every cell, and on a shared
//! machine most of the variation lives between restarts and between positions in the order, not
//! between the seconds of one window (Kalibera and Jones, "Rigorous Benchmarking in Reasonable
//! Time", ISMM 2013). So each figure is computed once per cell from the whole window (a
//! percentile of the cell's histogram, the window's CPU, its mean memory), an overhead is the
//! per-round difference mode minus baseline (the baseline's two cells of the round averaged), and
//! its interval is the mean of those differences +- t(rounds - 1) x their standard error. The
//! variance of a per-round difference holds both levels at once: the spread between restarts and
//! the within-window (per-second) spread of the two cells it compares, so one t interval over
//! rounds covers both without estimating them apart; pairing by round cancels drift slower than a
//! round. With one round there is no interval: the verdict is then inconclusive.

use std::collections::BTreeMap;

use super::Estimate;
use super::stats::mean_interval;
use crate::results::{CellResult, Percentiles};

/// The latency statistics a budget or a compared figure can name.
pub const LATENCY_STATS: [&str; 6] = ["p50", "p90", "p99", "p999", "max", "mean"];

/// A figure measured once per cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure<'a> {
    /// A latency statistic of the cell's corrected histogram (failures included), ms.
    Latency(&'a str),
    /// Responses per second of measured window.
    Throughput,
    /// Errors, drops and unfinished requests, % of requests due.
    ErrorPct,
    /// The service's window CPU, % of one core.
    Cpu(&'a str),
    /// The service's mean memory over the window, MB.
    Memory(&'a str),
}

/// A latency statistic by name, `None` for an unknown one.
pub fn latency_stat(p: &Percentiles, name: &str) -> Option<f64> {
    Some(match name {
        "p50" => p.p50,
        "p90" => p.p90,
        "p99" => p.p99,
        "p999" => p.p999,
        "max" => p.max,
        "mean" => p.mean,
        _ => return None,
    })
}

/// The figure of one cell; `None` when the cell did not measure it.
pub fn cell_value(c: &CellResult, m: Measure) -> Option<f64> {
    match m {
        Measure::Latency(name) => (c.recorded() > 0)
            .then(|| latency_stat(&c.load.latency_ms, name))
            .flatten(),
        Measure::Throughput => {
            let window_s = (c.window_end_unix_ms - c.window_start_unix_ms) as f64 / 1000.0;
            (window_s > 0.0).then(|| c.load.completed as f64 / window_s)
        }
        Measure::ErrorPct => (c.load.due > 0).then(|| c.error_pct()),
        Measure::Cpu(service) => {
            let r = c.resources.iter().find(|r| r.service == service)?;
            let samples: Vec<f64> = r.samples.iter().filter_map(|s| s.cpu_pct).collect();
            r.window_cpu_pct.or_else(|| mean(&samples))
        }
        Measure::Memory(service) => {
            let r = c.resources.iter().find(|r| r.service == service)?;
            let samples: Vec<f64> = r
                .samples
                .iter()
                .filter_map(|s| s.mem_bytes.map(|b| b as f64 / 1e6))
                .collect();
            mean(&samples)
        }
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The figure per round: the mean over the round's cells (of `replicate` only, when given).
pub fn per_round(cells: &[&CellResult], m: Measure, replicate: Option<u32>) -> BTreeMap<u32, f64> {
    let mut sums: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
    for c in cells {
        if replicate.is_some_and(|r| r != c.replicate) {
            continue;
        }
        if let Some(v) = cell_value(c, m) {
            let e = sums.entry(c.round).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(round, (sum, n))| (round, sum / f64::from(n)))
        .collect()
}

/// The mean of the per-round figures with its t interval; `None` when no cell measured it.
pub fn level(cells: &[&CellResult], m: Measure) -> Option<Estimate> {
    let values: Vec<f64> = per_round(cells, m, None).into_values().collect();
    mean_interval(&values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadSummary;
    use crate::results::EncodedHistogram;

    fn cell(round: u32, replicate: u32, p50: f64) -> CellResult {
        CellResult {
            mode: "off".into(),
            rate: 10.0,
            round,
            replicate,
            order: 0,
            window_start_unix_ms: 0,
            window_end_unix_ms: 2_000,
            load: LoadSummary {
                achieved_rate: 10.0,
                due: 20,
                sent: 20,
                completed: 18,
                errors: 1,
                dropped: 1,
                latency_ms: Percentiles {
                    p50,
                    ..Percentiles::default()
                },
                ..LoadSummary::default()
            },
            ok: 18,
            warnings: vec![],
            tracebench_cpu_s: None,
            steal_pct: None,
            latency: EncodedHistogram::from_hdr(&{
                let mut h = crate::load::new_histogram();
                h.record_n(1000, 19).unwrap();
                h
            }),
            seconds: vec![],
            resources: vec![],
        }
    }

    #[test]
    fn rounds_average_their_replicates() {
        let cells = [
            cell(0, 0, 1.0),
            cell(0, 1, 3.0),
            cell(1, 0, 2.0),
            cell(2, 1, 5.0),
        ];
        let refs: Vec<&CellResult> = cells.iter().collect();
        let all = per_round(&refs, Measure::Latency("p50"), None);
        assert_eq!(all, BTreeMap::from([(0, 2.0), (1, 2.0), (2, 5.0)]));
        let first = per_round(&refs, Measure::Latency("p50"), Some(0));
        assert_eq!(first, BTreeMap::from([(0, 1.0), (1, 2.0)]));
        assert_eq!(cell_value(&cells[0], Measure::Throughput), Some(9.0));
        assert_eq!(cell_value(&cells[0], Measure::ErrorPct), Some(10.0));
        assert_eq!(cell_value(&cells[0], Measure::Cpu("gateway")), None);
        assert_eq!(cell_value(&cells[0], Measure::Latency("p75")), None);
    }

    #[test]
    fn the_interval_of_a_level_is_t_times_the_standard_error_of_the_round_means() {
        let cells: Vec<CellResult> = [1.0, 2.0, 3.0]
            .iter()
            .enumerate()
            .map(|(r, &v)| cell(r as u32, 0, v))
            .collect();
        let refs: Vec<&CellResult> = cells.iter().collect();
        let e = level(&refs, Measure::Latency("p50")).unwrap();
        // sd 1, se 1 / sqrt(3), t(2) = 4.303.
        let half = 4.303 / 3f64.sqrt();
        assert!((e.value - 2.0).abs() < 1e-12);
        assert!(
            (e.high - 2.0 - half).abs() < 1e-9 && (2.0 - e.low - half).abs() < 1e-9,
            "{e:?}"
        );
        assert_eq!(e.df, Some(2.0));
    }
}
