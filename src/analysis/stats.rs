//! Small statistical building blocks: interval formulas. Written out here
//! (a few dozen lines) rather than pulled in from a statistics crate, so every formula the report
//! cites is visible and tested.

use super::Estimate;

/// Two-sided 95%: the normal quantile for Wilson intervals of rates.
pub const Z95: f64 = 1.959_963_984_540_054;
/// Two-sided 99%: the normal quantile for the trace-volume acceptance interval.
pub const Z99: f64 = 2.575_829_303_548_901;

/// Wilson score interval (95%) of a proportion `successes / trials`. With no trials the
/// proportion is unknown: 0 within [0, 1].
pub fn wilson(successes: u64, trials: u64) -> Estimate {
    if trials == 0 {
        return Estimate::new(0.0, 0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Estimate::new(p, (centre - half).max(0.0), (centre + half).min(1.0))
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

/// The mean of `values` with its 95% t interval (mean +- t(n - 1) x sd / sqrt(n)), carrying its
/// standard error and degrees of freedom so two estimates can be compared (Welch). One value
/// gives the point alone (`se` `None`); none gives `None`.
pub fn mean_interval(values: &[f64]) -> Option<Estimate> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return Some(Estimate::point(mean));
    }
    let se = std_dev(values) / n.sqrt();
    Some(Estimate::with_se(mean, se, n - 1.0))
}

/// `a - b` for two independent estimates, with Welch's interval (standard errors added in
/// quadrature, Welch-Satterthwaite degrees of freedom). The point alone when either has no `se`.
pub fn welch_difference(a: &Estimate, b: &Estimate) -> Estimate {
    let value = a.value - b.value;
    let (Some(sa), Some(sb), Some(da), Some(db)) = (a.se, b.se, a.df, b.df) else {
        return Estimate::point(value);
    };
    let (va, vb) = (sa * sa, sb * sb);
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return Estimate::with_se(value, 0.0, da + db);
    }
    let df = (va + vb).powi(2) / (va * va / da.max(1.0) + vb * vb / db.max(1.0));
    Estimate::with_se(value, se, df)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn mean_intervals_use_t_and_welch_combines_two() {
        assert!(mean_interval(&[]).is_none());
        let one = mean_interval(&[2.0]).unwrap();
        assert_eq!(
            (one.value, one.low, one.high, one.se),
            (2.0, 2.0, 2.0, None)
        );
        let e = mean_interval(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        let se = std_dev(&[1.0, 2.0, 3.0, 4.0]) / 2.0;
        assert!((e.high - 2.5 - 3.182 * se).abs() < 1e-9, "{e:?}");
        assert_eq!(e.df, Some(3.0));
        // Equal variances and sizes: Welch's df is 2(n - 1).
        let d = welch_difference(&e, &e);
        assert_eq!(d.value, 0.0);
        assert!(
            (d.df.unwrap() - 6.0).abs() < 1e-9 && (d.se.unwrap() - se * 2f64.sqrt()).abs() < 1e-12
        );
        assert_eq!(welch_difference(&e, &one).se, None);
    }
}
