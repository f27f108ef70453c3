//! CPU and memory of one service over a group of cells, and the intervals of their means and of
//! their differences.
//!
//! Method: the unit of evidence is the cell (round), not the one-second sample. Samples within a
//! window are autocorrelated, and every cell restarts the services, so memory in particular varies
//! more from cell to cell than within one. With at least two cells on each side the interval is
//! Student's / Welch's t over the per-cell values (CPU: the window figure from cumulative CPU time;
//! memory: the mean of the window's samples); t rather than a bootstrap over rounds, because with
//! 2-5 rounds a bootstrap has few distinct resamples and its interval is too narrow. With a single
//! cell on a side it falls back to a moving-block bootstrap of the one-second samples (blocks of
//! at least 5 s, resampled within each cell), its percentile interval shifted onto the point
//! estimate.

use rand::rngs::StdRng;

use super::Estimate;
use super::stats::{block_resample_mean, percentile_interval, t_interval, welch_interval};
use crate::results::{CellResult, ServiceResources};

/// One cell's figure and the one-second samples behind it.
#[derive(Debug, Clone)]
pub struct CellSeries {
    pub value: f64,
    pub samples: Vec<f64>,
}

/// Which resource figure to read from a service's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// % of one core.
    Cpu,
    /// MB (10^6 bytes).
    Memory,
}

/// `service`'s figure in each of `cells` that measured it.
pub fn series(cells: &[&CellResult], service: &str, figure: Figure) -> Vec<CellSeries> {
    cells
        .iter()
        .filter_map(|c| c.resources.iter().find(|r| r.service == service))
        .filter_map(|r| cell_series(r, figure))
        .collect()
}

fn cell_series(r: &ServiceResources, figure: Figure) -> Option<CellSeries> {
    let samples: Vec<f64> = match figure {
        Figure::Cpu => r.samples.iter().filter_map(|s| s.cpu_pct).collect(),
        Figure::Memory => r
            .samples
            .iter()
            .filter_map(|s| s.mem_bytes.map(|b| b as f64 / 1e6))
            .collect(),
    };
    let mean = (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64);
    let value = match figure {
        Figure::Cpu => r.window_cpu_pct.or(mean)?,
        Figure::Memory => mean?,
    };
    Some(CellSeries { value, samples })
}

/// Splits a group's cells into two halves for the noise floor: alternate cells when there are at
/// least two, else alternate 5-second blocks of the single cell's samples. Returns the halves and
/// how they were split.
pub fn split_halves(cells: &[CellSeries]) -> (Vec<CellSeries>, Vec<CellSeries>, &'static str) {
    if cells.len() >= 2 {
        let half = |parity| {
            cells
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == parity)
                .map(|(_, c)| c.clone())
                .collect()
        };
        return (half(0), half(1), "alternate rounds");
    }
    let samples = cells.first().map_or(&[][..], |c| &c.samples[..]);
    let half = |parity| -> Vec<CellSeries> {
        let samples: Vec<f64> = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| (i / 5) % 2 == parity)
            .map(|(_, &v)| v)
            .collect();
        if samples.is_empty() {
            return vec![];
        }
        let value = samples.iter().sum::<f64>() / samples.len() as f64;
        vec![CellSeries { value, samples }]
    };
    (half(0), half(1), "alternate 5 s blocks of samples")
}

fn mean_of_values(cells: &[CellSeries]) -> f64 {
    cells.iter().map(|c| c.value).sum::<f64>() / cells.len() as f64
}

/// The mean over cells of their sample means, for one block-bootstrap resample.
fn resampled_mean(rng: &mut StdRng, cells: &[CellSeries]) -> f64 {
    let means: f64 = cells
        .iter()
        .map(|c| block_resample_mean(rng, &c.samples))
        .sum();
    means / cells.len() as f64
}

fn sample_mean(cells: &[CellSeries]) -> f64 {
    let means: f64 = cells
        .iter()
        .map(|c| c.samples.iter().sum::<f64>() / c.samples.len() as f64)
        .sum();
    means / cells.len() as f64
}

/// Block-bootstrap interval of `stat` (over resampled sample means), shifted so it is centred as
/// the replicates are around the sample-based figure, onto `point`. `None` when a cell has fewer
/// than two samples.
fn block_interval(
    rng: &mut StdRng,
    resamples: u32,
    point: f64,
    sides: &[&[CellSeries]],
    stat: impl Fn(&[f64]) -> f64,
) -> Option<Estimate> {
    if sides
        .iter()
        .any(|cells| cells.iter().any(|c| c.samples.len() < 2))
    {
        return None;
    }
    let observed = stat(&sides.iter().map(|c| sample_mean(c)).collect::<Vec<_>>());
    let mut replicates: Vec<f64> = (0..resamples)
        .map(|_| {
            let means: Vec<f64> = sides.iter().map(|c| resampled_mean(rng, c)).collect();
            stat(&means) - observed
        })
        .collect();
    let spread = percentile_interval(0.0, &mut replicates);
    Some(Estimate {
        value: point,
        low: point + spread.low,
        high: point + spread.high,
    })
}

/// The mean over cells with its 95% interval; the interval is `None` (point only) when it cannot
/// be computed. `None` altogether when no cell measured the figure.
pub fn mean(rng: &mut StdRng, resamples: u32, cells: &[CellSeries]) -> Option<(Estimate, bool)> {
    if cells.is_empty() {
        return None;
    }
    let point = mean_of_values(cells);
    let interval = t_interval(&cells.iter().map(|c| c.value).collect::<Vec<_>>())
        .or_else(|| block_interval(rng, resamples, point, &[cells], |m| m[0]));
    Some(with_interval(point, interval))
}

/// `mean(a) - mean(b)` with its 95% interval, as [`mean`].
pub fn difference(
    rng: &mut StdRng,
    resamples: u32,
    a: &[CellSeries],
    b: &[CellSeries],
) -> Option<(Estimate, bool)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let point = mean_of_values(a) - mean_of_values(b);
    let values = |cells: &[CellSeries]| cells.iter().map(|c| c.value).collect::<Vec<_>>();
    let interval = welch_interval(&values(a), &values(b))
        .or_else(|| block_interval(rng, resamples, point, &[a, b], |m| m[0] - m[1]));
    Some(with_interval(point, interval))
}

/// The estimate, and whether it has a real interval (else `low` = `high` = the point).
fn with_interval(point: f64, interval: Option<Estimate>) -> (Estimate, bool) {
    match interval {
        Some(e) => (e, true),
        None => (
            Estimate {
                value: point,
                low: point,
                high: point,
            },
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cell(value: f64, samples: Vec<f64>) -> CellSeries {
        CellSeries { value, samples }
    }

    #[test]
    fn rounds_use_t_and_single_cells_the_block_bootstrap() {
        let mut rng = StdRng::seed_from_u64(3);
        let three = [cell(10.0, vec![]), cell(11.0, vec![]), cell(12.0, vec![])];
        let (e, ok) = mean(&mut rng, 200, &three).unwrap();
        assert!(ok && e.value == 11.0 && e.low < 11.0 && e.high > 11.0);

        let samples: Vec<f64> = (0..60).map(|i| 20.0 + (i % 7) as f64).collect();
        let one = [cell(23.0, samples.clone())];
        let (e, ok) = mean(&mut rng, 200, &one).unwrap();
        assert!(
            ok && e.value == 23.0 && e.low < 23.0 && e.high > 23.0,
            "{e:?}"
        );
        assert!(e.high - e.low < 3.0, "{e:?}");

        let zero = [cell(23.0, samples)];
        let (d, ok) = difference(&mut rng, 200, &one, &zero).unwrap();
        assert!(
            ok && d.value == 0.0 && d.low <= 0.0 && d.high >= 0.0,
            "{d:?}"
        );

        let (d, ok) = difference(&mut rng, 200, &[cell(1.0, vec![1.0])], &zero).unwrap();
        assert!(!ok && d.low == d.high);
        assert!(difference(&mut rng, 200, &[], &zero).is_none());
    }

    #[test]
    fn halves_alternate_rounds_or_blocks() {
        let three = [cell(1.0, vec![]), cell(2.0, vec![]), cell(3.0, vec![])];
        let (a, b, how) = split_halves(&three);
        assert_eq!((a.len(), b.len(), how), (2, 1, "alternate rounds"));
        let one = [cell(0.0, (0..20).map(f64::from).collect())];
        let (a, b, _) = split_halves(&one);
        assert_eq!(
            a[0].samples,
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0]
        );
        assert_eq!(b[0].value, 12.0);
    }
}
