//! Small statistical building blocks: interval formulas and resampling helpers. Written out here
//! (a few dozen lines) rather than pulled in from a statistics crate, so every formula the report
//! cites is visible and tested.

use rand::Rng;
use rand::rngs::StdRng;

use super::Estimate;

/// Two-sided 95%: the normal quantile for Wilson intervals of rates.
pub const Z95: f64 = 1.959_963_984_540_054;
/// Two-sided 99%: the normal quantile for the trace-volume acceptance interval.
pub const Z99: f64 = 2.575_829_303_548_901;

/// The `q`-quantile (0..=1) of `values` by linear interpolation between order statistics
/// (type 7, as R and numpy do by default). Sorts `values` in place. `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(values[lo] + (values[hi] - values[lo]) * (pos - lo as f64))
}

/// The percentile interval (2.5% and 97.5% quantiles) of bootstrap replicates around `point`.
pub fn percentile_interval(point: f64, replicates: &mut [f64]) -> Estimate {
    let low = quantile(replicates, 0.025).unwrap_or(point);
    let high = quantile(replicates, 0.975).unwrap_or(point);
    Estimate {
        value: point,
        low,
        high,
    }
}

/// Wilson score interval (95%) of a proportion `successes / trials`. With no trials the
/// proportion is unknown: 0 within [0, 1].
pub fn wilson(successes: u64, trials: u64) -> Estimate {
    if trials == 0 {
        return Estimate {
            value: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (rounded down, which
/// widens the interval slightly). Exact table to 30, then the Cornish-Fisher expansion, which is
/// within 1e-3 there.
pub fn t975(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let df = df.floor().max(1.0);
    if df <= 30.0 {
        return TABLE[df as usize - 1];
    }
    let z = Z95;
    z + (z.powi(3) + z) / (4.0 * df)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df)
}

/// Standard deviation (n - 1 denominator); 0 for fewer than two values.
pub fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// How many times each of `n` items is drawn when drawing `n` with replacement (a bootstrap
/// resample as multiplicities, so the caller adds each item once, times its weight).
pub fn draw_weights(rng: &mut StdRng, n: usize, weights: &mut Vec<u32>) {
    weights.clear();
    weights.resize(n, 0);
    for _ in 0..n {
        weights[rng.random_range(0..n)] += 1;
    }
}

/// Block length of the moving-block bootstrap for `n` one-second samples: at least 5 s (CPU and
/// memory samples stay correlated over a few seconds), growing as n^(1/3).
pub fn block_len(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize)
        .max(5)
        .min((n / 2).max(1))
}

/// The mean of one moving-block bootstrap resample of `samples` (non-empty).
pub fn block_resample_mean(rng: &mut StdRng, samples: &[f64]) -> f64 {
    let n = samples.len();
    let len = block_len(n);
    let (mut sum, mut taken) = (0.0, 0);
    while taken < n {
        let start = rng.random_range(0..=n - len);
        for v in &samples[start..start + len.min(n - taken)] {
            sum += v;
        }
        taken += len.min(n - taken);
    }
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn quantile_interpolates_between_order_statistics() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile(&mut v, 1.0), Some(4.0));
        assert_eq!(quantile(&mut v, 0.5), Some(2.5));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn wilson_matches_a_published_value() {
        // 81 of 263: Wilson 95% interval 0.2553 to 0.3662 (Newcombe 1998, table I style check).
        let e = wilson(81, 263);
        assert!((e.low - 0.2553).abs() < 5e-4, "{e:?}");
        assert!((e.high - 0.3662).abs() < 5e-4, "{e:?}");
        assert_eq!(wilson(0, 0).high, 1.0);
        assert_eq!(wilson(0, 10).low, 0.0);
    }

    #[test]
    fn t_quantiles_are_continuous_across_the_table_edge() {
        assert_eq!(t975(1.0), 12.706);
        assert_eq!(t975(2.7), 4.303);
        assert!((t975(31.0) - 2.0395).abs() < 1e-3);
        assert!((t975(1e9) - Z95).abs() < 1e-6);
        assert_eq!(std_dev(&[1.0]), 0.0);
        assert!((std_dev(&[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn weights_sum_to_n_and_block_means_stay_in_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut w = Vec::new();
        draw_weights(&mut rng, 60, &mut w);
        assert_eq!(w.iter().sum::<u32>(), 60);
        let samples: Vec<f64> = (0..60).map(f64::from).collect();
        for _ in 0..100 {
            let m = block_resample_mean(&mut rng, &samples);
            assert!((0.0..=59.0).contains(&m));
        }
        assert_eq!(block_resample_mean(&mut rng, &[3.0]), 3.0);
    }
}
