//! Where a series of overheads shifts: binary segmentation with Welch's t-test.
//!
//! Method: among every split of the series into a left and a right part of at least three runs
//! each, take the one whose means differ by the most standard errors (Welch's t, each side's
//! variance the spread of its runs, never below the mean of the runs' own squared standard
//! errors, so two runs that happen to agree do not look noiseless); it is a change point when
//! its two-sided p-value is below 0.05 divided by the number of splits tried (Bonferroni), and
//! each side is then searched the same way (binary segmentation, Scott and Knott 1974; Vostrikova
//! 1981). Apache Otava (ex Hunter) splits by E-Divisive means and tests the split with a t-test
//! too; with the handful of runs a release review has, the split of largest t is the same
//! search, and the Bonferroni bound keeps the false alarms of a flat series at or below 5%
//! (seeded simulation in the tests; with two runs a side, whose spread has one degree of
//! freedom, it was 6%). A shift in the last two runs is not found yet: each side needs three.

use crate::analysis::t_cdf;

use super::Point;

/// The family-wise error of one search over a flat series.
const ALPHA: f64 = 0.05;
/// The fewest runs on each side of a change point.
const SIDE: usize = 3;

/// Indices of the first point after each change, ascending. Runs without a point are skipped.
pub fn find(points: &[Option<Point>]) -> Vec<usize> {
    let present: Vec<(usize, f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let p = p.as_ref()?;
            Some((i, p.overhead.value, p.overhead.se.unwrap_or(0.0)))
        })
        .collect();
    let values: Vec<(f64, f64)> = present.iter().map(|&(_, v, se)| (v, se)).collect();
    let mut found = Vec::new();
    search(&values, 0, &mut found);
    let mut changes: Vec<usize> = found.into_iter().map(|k| present[k].0).collect();
    changes.sort_unstable();
    changes
}

fn search(values: &[(f64, f64)], offset: usize, found: &mut Vec<usize>) {
    let n = values.len();
    if n < 2 * SIDE {
        return;
    }
    let splits = n - 2 * SIDE + 1;
    let best = (SIDE..=n - SIDE)
        .filter_map(|k| welch(&values[..k], &values[k..]).map(|p| (k, p)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let Some((k, p)) = best else { return };
    if p >= ALPHA / splits as f64 {
        return;
    }
    found.push(offset + k);
    search(&values[..k], offset, found);
    search(&values[k..], offset + k, found);
}

/// The two-sided p-value of Welch's t between two groups of (value, standard error).
fn welch(left: &[(f64, f64)], right: &[(f64, f64)]) -> Option<f64> {
    let side = |xs: &[(f64, f64)]| {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|x| x.0).sum::<f64>() / n;
        let spread = xs.iter().map(|x| (x.0 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let own = xs.iter().map(|x| x.1 * x.1).sum::<f64>() / n;
        (mean, spread.max(own) / n, n - 1.0)
    };
    let (ml, vl, dl) = side(left);
    let (mr, vr, dr) = side(right);
    let v = vl + vr;
    if v <= 0.0 {
        return None;
    }
    let t = (mr - ml).abs() / v.sqrt();
    let df = v * v / (vl * vl / dl + vr * vr / dr);
    Some(2.0 * (1.0 - t_cdf(t, df)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::standard_normal as normal;
    use crate::analysis::{Estimate, Verdict};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn series(values: &[f64], se: f64) -> Vec<Option<Point>> {
        values
            .iter()
            .map(|&v| {
                Some(Point {
                    overhead: Estimate::with_se(v, se, 7.0),
                    verdict: Verdict::Pass,
                })
            })
            .collect()
    }

    #[test]
    fn a_shift_after_three_runs_is_found_where_it_is() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut right = 0;
        let trials = 1000;
        for _ in 0..trials {
            // p50 overhead 0.05 ms, +2 ms from the fourth run on; runs vary by 0.05 ms.
            let values: Vec<f64> = (0..6)
                .map(|i| 0.05 + if i >= 3 { 2.0 } else { 0.0 } + 0.05 * normal(&mut rng))
                .collect();
            right += usize::from(find(&series(&values, 0.02)) == [3]);
        }
        assert_eq!(right, trials, "the one change at run 4 in every trial");
    }

    #[test]
    fn a_flat_series_rarely_has_a_change() {
        let mut rng = StdRng::seed_from_u64(2);
        let trials = 4000;
        let mut flagged = 0;
        for _ in 0..trials {
            let values: Vec<f64> = (0..10).map(|_| 0.6 + 0.3 * normal(&mut rng)).collect();
            flagged += usize::from(!find(&series(&values, 0.08)).is_empty());
        }
        let share = flagged as f64 / f64::from(trials);
        eprintln!("flat series with a change point: {share}");
        assert!(share <= 0.05, "{share}");
    }

    #[test]
    fn short_series_and_missing_runs() {
        assert!(find(&series(&[0.0, 0.0, 2.0, 2.0, 2.0], 0.01)).is_empty());
        let mut points = series(&[0.0, 0.0, 0.0, 2.0, 2.0, 2.0], 0.01);
        points.insert(2, None);
        assert_eq!(
            find(&points),
            [4],
            "the index counts the run without a point"
        );
    }
}
