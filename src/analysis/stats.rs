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

/// The standard normal distribution function, from the complementary error function (Numerical
/// Recipes' Chebyshev fit, fractional error below 1.2e-7 everywhere).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| c + t * acc);
    let erfc = t * (-z * z + poly).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// The standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, k| acc * x + k);
    let tail = |q: f64| poly(&C, q) / (poly(&D, q) * q + 1.0);
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
/// Lentz), on the side of x where it converges fast.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    let fraction = |a: f64, b: f64, x: f64| {
        const TINY: f64 = 1e-300;
        let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
        let (mut c, mut d) = (1.0, 1.0 / guard(1.0 - (a + b) * x / (a + 1.0)));
        let mut h = d;
        for m in 1..500 {
            let m = f64::from(m);
            let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
            d = 1.0 / guard(1.0 + even * d);
            c = guard(1.0 + even / c);
            h *= d * c;
            let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
            d = 1.0 / guard(1.0 + odd * d);
            c = guard(1.0 + odd / c);
            h *= d * c;
            if (d * c - 1.0).abs() < 1e-15 {
                break;
            }
        }
        h
    };
    if x < (a + 1.0) / (a + b + 2.0) {
        front * fraction(a, b, x) / a
    } else {
        1.0 - front * fraction(b, a, 1.0 - x) / b
    }
}

/// Student's t distribution function with `df` degrees of freedom (any positive real).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// Student's t density with `df` degrees of freedom.
fn t_pdf(t: f64, df: f64) -> f64 {
    (ln_gamma((df + 1.0) / 2.0)
        - ln_gamma(df / 2.0)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - (df + 1.0) / 2.0 * (1.0 + t * t / df).ln())
    .exp()
}

/// The `p` quantile of Student's t with `df` degrees of freedom: Newton's method on [`t_cdf`]
/// from the normal quantile, with bisection as the fallback where a step would overshoot.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut low, mut high) = (0.0, f64::INFINITY);
    let mut t = normal_quantile(p);
    for _ in 0..200 {
        let f = t_cdf(t, df) - p;
        if f.abs() < 1e-14 {
            break;
        }
        if f < 0.0 {
            low = t;
        } else {
            high = t;
        }
        let step = t - f / t_pdf(t, df);
        t = if step > low && step < high {
            step
        } else if high.is_finite() {
            0.5 * (low + high)
        } else {
            2.0 * t.max(1.0)
        };
        if high - low < 1e-13 * t.abs().max(1.0) {
            break;
        }
    }
    t
}

/// A standard normal draw (Box-Muller), for the seeded simulations of the unit tests.
#[cfg(test)]
pub(crate) fn standard_normal(rng: &mut rand::rngs::StdRng) -> f64 {
    use rand::Rng;
    let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
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

/// The variance between runs of one figure, from its estimates in several runs as (value,
/// standard error): the variance of the values beyond what their own standard errors explain
/// (a moment estimate in the manner of DerSimonian and Laird), never below 0.
pub fn between_run_variance(runs: &[(f64, f64)]) -> f64 {
    if runs.len() < 2 {
        return 0.0;
    }
    let values: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let within = runs.iter().map(|r| r.1 * r.1).sum::<f64>() / runs.len() as f64;
    (std_dev(&values).powi(2) - within).max(0.0)
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

    #[test]
    fn distributions_match_published_values() {
        for (x, p) in [
            (0.0, 0.5),
            (1.959_964, 0.975),
            (-2.575_829, 0.005),
            (3.0, 0.998_650_1),
        ] {
            assert!((normal_cdf(x) - p).abs() < 2e-7, "{x}: {}", normal_cdf(x));
            assert!(
                (normal_quantile(p) - x).abs() < 1e-5,
                "{p}: {}",
                normal_quantile(p)
            );
        }
        assert!((normal_pdf(0.0) - 0.398_942_28).abs() < 1e-8);
        // Student's t: the table's 97.5% points, and 99.5% at 10 df (3.169).
        for (df, q) in [(1.0, 12.706), (4.0, 2.776), (30.0, 2.042)] {
            assert!((t_quantile(0.975, df) - q).abs() < 1e-3, "{df}");
        }
        assert!((t_quantile(0.995, 10.0) - 3.169).abs() < 1e-3);
        assert!((t_cdf(0.0, 3.0) - 0.5).abs() < 1e-12);
        assert!((t_quantile(0.025, 7.0) + t975(7.0)).abs() < 1e-3);
        // Many df: the normal.
        assert!((t_quantile(0.975, 1e7) - Z95).abs() < 1e-4);
    }
}
