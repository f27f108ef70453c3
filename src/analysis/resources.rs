//! CPU and memory of one service over a group of cells, and the intervals of their means and of
//! their differences.
//!
//! Method: a moving-block bootstrap of the one-second samples, stratified by cell (round) as the
//! latency bootstrap is: each resample draws, within each cell, blocks of consecutive samples
//! (at least 5 s long, as samples stay correlated over a few seconds) until it has as many samples
//! as the cell, and averages the cell means. The interval is the point estimate +- t x the
//! replicates' standard deviation (t with blocks - cells degrees of freedom, see
//! [`block_interval`]); the point estimate is the mean of the per-cell figures (CPU: the window figure from cumulative CPU time,
//! exact where one-second samples are coarse; memory: the window's mean). Rounds are strata, not
//! samples: a t interval over 3 rounds has 2-4 degrees of freedom (t = 2.8 to 4.3), too wide to
//! decide a 1 pp budget unless the rounds agree within about 0.3 pp. The price: variation between restarts (rounds) is not in the interval;
//! the per-round figures (`CellResult::resources`) show it, and more rounds average it out.

use rand::rngs::StdRng;

use super::Estimate;
use super::stats::{block_len, block_resample_mean, std_dev, t975};
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

/// Splits every cell's samples into alternate 5-second blocks, for the noise floor: each half
/// holds every round, so the halves differ only by noise.
pub fn split_halves(cells: &[CellSeries]) -> (Vec<CellSeries>, Vec<CellSeries>) {
    let half = |parity| -> Vec<CellSeries> {
        cells
            .iter()
            .filter_map(|c| {
                let samples: Vec<f64> = c
                    .samples
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (i / 5) % 2 == parity)
                    .map(|(_, &v)| v)
                    .collect();
                let value = samples.iter().sum::<f64>() / samples.len() as f64;
                (!samples.is_empty()).then_some(CellSeries { value, samples })
            })
            .collect()
    };
    (half(0), half(1))
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

/// Block-bootstrap interval of `stat` (over resampled sample means) around `point`: the
/// replicates' standard deviation times Student's t with (blocks - cells) degrees of freedom.
/// With few blocks a percentile interval is too narrow (a 20 s cell holds only four 5 s blocks);
/// t widens it by what so few independent blocks can tell. `None` when a cell has fewer than two
/// samples.
fn block_interval(
    rng: &mut StdRng,
    resamples: u32,
    point: f64,
    sides: &[&[CellSeries]],
    stat: impl Fn(&[f64]) -> f64,
) -> Option<Estimate> {
    let cells = sides.iter().flat_map(|side| side.iter());
    if cells.clone().any(|c| c.samples.len() < 2) {
        return None;
    }
    let blocks: usize = cells
        .clone()
        .map(|c| c.samples.len() / block_len(c.samples.len()))
        .sum();
    let df = blocks.saturating_sub(cells.count()).max(1);
    let replicates: Vec<f64> = (0..resamples)
        .map(|_| {
            let means: Vec<f64> = sides.iter().map(|c| resampled_mean(rng, c)).collect();
            stat(&means)
        })
        .collect();
    let half = t975(df as f64) * std_dev(&replicates);
    Some(Estimate {
        value: point,
        low: point - half,
        high: point + half,
    })
}

/// The mean over cells with its 95% interval; the interval is `None` (point only) when it cannot
/// be computed. `None` altogether when no cell measured the figure.
pub fn mean(rng: &mut StdRng, resamples: u32, cells: &[CellSeries]) -> Option<(Estimate, bool)> {
    if cells.is_empty() {
        return None;
    }
    let point = mean_of_values(cells);
    let interval = block_interval(rng, resamples, point, &[cells], |m| m[0]);
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
    let interval = block_interval(rng, resamples, point, &[a, b], |m| m[0] - m[1]);
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
    fn intervals_come_from_blocks_of_samples_around_the_cell_figures() {
        let mut rng = StdRng::seed_from_u64(3);
        let constant = |v| cell(v, vec![v; 10]);
        let three = [constant(10.0), constant(11.0), constant(12.0)];
        let (e, ok) = mean(&mut rng, 200, &three).unwrap();
        assert!(
            ok && (e.value, e.low, e.high) == (11.0, 11.0, 11.0),
            "{e:?}"
        );

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
    fn halves_alternate_five_second_blocks_of_every_cell() {
        let samples: Vec<f64> = (0..20).map(f64::from).collect();
        let cells = [
            cell(0.0, samples.clone()),
            cell(0.0, samples),
            cell(0.0, vec![]),
        ];
        let (a, b) = split_halves(&cells);
        assert_eq!((a.len(), b.len()), (2, 2));
        assert_eq!(
            a[0].samples,
            [0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0]
        );
        assert_eq!(b[1].value, 12.0);
    }
}
