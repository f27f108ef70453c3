//! The crossover model: each cell's figure as round + position + treatment + carry-over of the
//! cell before it + noise, fitted by least squares.
//!
//! Why a model and not paired differences: the Williams order balances which treatment follows
//! which, but the baseline is measured twice a round, so it can follow itself while the other
//! modes cannot. When a mode slows the cell after it (its services' export and teardown still
//! running), the plain per-round difference carries part of that effect onto the mode's own
//! estimate (about -0.22 times it with the default modes, towards pass), whatever the number of
//! rounds. With the previous cell's mode as a term of its own, a Williams design makes treatment
//! and first-order carry-over estimable apart (Jones and Kenward, "Design and Analysis of
//! Cross-Over Trials", ch. 4), so the treatment effect is unbiased under first-order carry-over,
//! and the carry-over itself is reported. Rounds enter as fixed effects (each round is a block
//! of restarts under the same conditions), so drift slower than a round cancels as before, and
//! positions within the round's rate block as fixed effects too (a first cell after a rate
//! change, a machine warming up through the round).
//!
//! Rounds are absorbed by centring every column within its round (Frisch-Waugh), which leaves a
//! small system of normal equations (positions + treatments + carry-overs, about 3n columns for n
//! treatments) however many rounds there are. The residual variance has N - rounds - columns
//! degrees of freedom. Where the order does not make carry-over estimable (a run cut short, a
//! design that is not balanced), the carry-over terms are left out and the fit says so.

/// One cell, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    /// The round (a block of its own).
    pub round: u32,
    /// Position within the round's cells at this rate, 0-based.
    pub position: usize,
    /// The treatment: 0 is the reference (the baseline's first cell).
    pub treatment: usize,
    /// The mode of the cell measured just before, as a carry-over class: 0 is the baseline mode.
    pub previous: usize,
    pub y: f64,
}

/// An estimated effect with its standard error and degrees of freedom; `se` is `None` when the
/// fit has no residual degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub value: f64,
    pub se: Option<f64>,
    pub df: f64,
}

/// A fitted model: linear combinations of its coefficients with their standard errors.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Column index of each treatment's effect (treatment 0 has none).
    treatment_col: Vec<Option<usize>>,
    /// Column index of each carry-over class's effect (class 0 has none), when estimable.
    carry_col: Vec<Option<usize>>,
    beta: Vec<f64>,
    /// (X'X)^-1.
    inverse: Vec<Vec<f64>>,
    /// Residual variance and its degrees of freedom.
    sigma2: f64,
    df: f64,
    /// Whether carry-over terms are in the model.
    pub carry_over_estimable: bool,
}

impl Fit {
    /// `sum(weights[t] x treatment effect t)` with its standard error; `None` when a treatment
    /// with a non-zero weight is not estimable.
    pub fn contrast(&self, weights: &[(usize, f64)]) -> Option<Effect> {
        let mut c = vec![0.0; self.beta.len()];
        for &(t, w) in weights {
            if t == 0 || w == 0.0 {
                continue;
            }
            c[(*self.treatment_col.get(t)?)?] += w;
        }
        Some(self.combine(&c))
    }

    /// The carry-over of class `class` (the effect on a cell of following it rather than the
    /// baseline); `None` for class 0 or when carry-over is not in the model.
    pub fn carry_over(&self, class: usize) -> Option<Effect> {
        let col = (*self.carry_col.get(class)?)?;
        let mut c = vec![0.0; self.beta.len()];
        c[col] = 1.0;
        Some(self.combine(&c))
    }

    fn combine(&self, c: &[f64]) -> Effect {
        let value = c.iter().zip(&self.beta).map(|(a, b)| a * b).sum();
        let quad: f64 = (0..c.len())
            .map(|i| c[i] * (0..c.len()).map(|j| self.inverse[i][j] * c[j]).sum::<f64>())
            .sum();
        let se = (self.df >= 1.0).then(|| (self.sigma2 * quad.max(0.0)).sqrt());
        Effect {
            value,
            se,
            df: self.df,
        }
    }
}

/// Which terms a fit holds besides rounds and treatments.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Terms {
    All,
    NoCarryOver,
    TreatmentsOnly,
}

/// Fits the model to `obs`, with `treatments` treatments and `classes` carry-over classes.
/// Falls back to fewer terms when the order does not make them estimable, or leaves no residual
/// degree of freedom (carry-over first, then positions); `None` when even treatments within
/// rounds are not (no treatment shares a round with the reference).
pub fn fit(obs: &[Obs], treatments: usize, classes: usize) -> Option<Fit> {
    let positions = obs.iter().map(|o| o.position + 1).max().unwrap_or(0);
    [Terms::All, Terms::NoCarryOver, Terms::TreatmentsOnly]
        .into_iter()
        .find_map(|terms| fit_with(obs, treatments, classes, positions, terms))
}

fn fit_with(
    obs: &[Obs],
    treatments: usize,
    classes: usize,
    positions: usize,
    terms: Terms,
) -> Option<Fit> {
    // Only what the data holds gets a column: an unmeasured treatment is not estimable, an
    // unseen position or carry-over class has nothing to estimate.
    let mut cols = 0;
    let mut columns = |count: usize, seen: &dyn Fn(usize) -> bool| -> Vec<Option<usize>> {
        (0..count)
            .map(|i| {
                (i > 0 && seen(i)).then(|| {
                    cols += 1;
                    cols - 1
                })
            })
            .collect()
    };
    let treatment_col = columns(treatments, &|t| obs.iter().any(|o| o.treatment == t));
    let position_col = if terms == Terms::TreatmentsOnly {
        vec![None; positions]
    } else {
        columns(positions, &|p| obs.iter().any(|o| o.position == p))
    };
    let carry_col = if terms == Terms::All {
        columns(classes, &|c| obs.iter().any(|o| o.previous == c))
    } else {
        vec![None; classes]
    };
    // The columns where a cell's row holds a 1: one each for its treatment, position and
    // previous mode (distinct column ranges), when they have a column.
    let ones = |o: &Obs| {
        [
            treatment_col.get(o.treatment).copied().flatten(),
            position_col.get(o.position).copied().flatten(),
            carry_col.get(o.previous).copied().flatten(),
        ]
    };
    // The normal equations of the columns and y centred within their round, accumulated from the
    // sparse rows: sum(x x') - n m m' per round, so a fit costs cells + rounds x columns^2.
    let mut sorted: Vec<&Obs> = obs.iter().collect();
    sorted.sort_by_key(|o| o.round);
    let blocks: Vec<&[&Obs]> = sorted.chunk_by(|a, b| a.round == b.round).collect();
    let mut xtx = vec![vec![0.0; cols]; cols];
    let mut xty = vec![0.0; cols];
    let mut yy = 0.0;
    for members in &blocks {
        let n = members.len() as f64;
        let mut sum_x = vec![0.0; cols];
        let mut sum_y = 0.0;
        for o in members.iter() {
            let at = ones(o);
            for a in at.iter().flatten() {
                sum_x[*a] += 1.0;
                xty[*a] += o.y;
                for b in at.iter().flatten() {
                    xtx[*a][*b] += 1.0;
                }
            }
            sum_y += o.y;
            yy += o.y * o.y;
        }
        for i in (0..cols).filter(|&i| sum_x[i] != 0.0) {
            xty[i] -= sum_x[i] * sum_y / n;
            for j in 0..cols {
                xtx[i][j] -= sum_x[i] * sum_x[j] / n;
            }
        }
        yy -= sum_y * sum_y / n;
    }
    let df = obs.len() as f64 - blocks.len() as f64 - cols as f64;
    if df < 1.0 && terms != Terms::TreatmentsOnly {
        // No residual left to estimate the noise: fewer terms, so there is (a run of 2 rounds).
        return None;
    }
    let inverse = invert(&xtx)?;
    let beta: Vec<f64> = (0..cols)
        .map(|i| (0..cols).map(|j| inverse[i][j] * xty[j]).sum())
        .collect();
    // Residual sum of squares: y'y - b'X'y of the centred data.
    let rss = (yy - beta.iter().zip(&xty).map(|(b, v)| b * v).sum::<f64>()).max(0.0);
    Some(Fit {
        treatment_col,
        carry_col,
        beta,
        inverse,
        sigma2: if df > 0.0 { rss / df } else { 0.0 },
        df: df.max(0.0),
        carry_over_estimable: terms == Terms::All,
    })
}

/// The inverse of a symmetric positive definite matrix (Cholesky); `None` when it is singular
/// (a term the data cannot estimate).
fn invert(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let scale = (0..n).map(|i| a[i][i]).fold(0.0, f64::max).max(1e-300);
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let sum: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if sum <= 1e-9 * scale {
                    return None;
                }
                l[i][i] = sum.sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    // Invert L row by row (forward substitution), then A^-1 = L^-T L^-1.
    let mut li: Vec<Vec<f64>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = vec![0.0; n];
        row[i] = 1.0 / l[i][i];
        for (j, slot) in row.iter_mut().enumerate().take(i) {
            let sum: f64 = (j..i).map(|k| l[i][k] * li[k][j]).sum();
            *slot = -sum / l[i][i];
        }
        li.push(row);
    }
    Some(
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (i.max(j)..n).map(|k| li[k][i] * li[k][j]).sum())
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::williams;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A run at one rate: `rounds` rows of the Williams square for `n` treatments (the last one
    /// the baseline's A/A pair, carry-over class 0 like treatment 0), the cell before the first
    /// one the baseline. `value(treatment, previous treatment, rng)` gives each figure.
    pub(crate) fn simulate(
        n: usize,
        rounds: u32,
        rng: &mut StdRng,
        mut value: impl FnMut(usize, usize, &mut StdRng) -> f64,
    ) -> Vec<Obs> {
        let rows = williams(n);
        let class = |t: usize| if t == n - 1 { 0 } else { t };
        let mut previous = 0;
        let mut obs = Vec::new();
        for round in 0..rounds {
            for (position, &t) in rows[round as usize % rows.len()].iter().enumerate() {
                obs.push(Obs {
                    round,
                    position,
                    treatment: t,
                    previous: class(previous),
                    y: value(t, previous, rng),
                });
                previous = t;
            }
        }
        obs
    }

    fn normal(rng: &mut StdRng) -> f64 {
        let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    #[test]
    fn without_noise_the_fit_recovers_effects_and_carry_over_exactly() {
        let mut rng = StdRng::seed_from_u64(1);
        // Treatments: 0 off, 1 on (+2, carry-over +0.5 on the next cell), 2 sampled (+1), 3 off's
        // A/A pair.
        let obs = simulate(4, 8, &mut rng, |t, prev, _| {
            10.0 + [0.0, 2.0, 1.0, 0.0][t] + if prev == 1 { 0.5 } else { 0.0 }
        });
        let fit = fit(&obs, 4, 3).unwrap();
        assert!(fit.carry_over_estimable);
        let on = fit.contrast(&[(1, 1.0), (3, -0.5)]).unwrap();
        assert!((on.value - 2.0).abs() < 1e-9, "{on:?}");
        assert!((fit.contrast(&[(2, 1.0)]).unwrap().value - 1.0).abs() < 1e-9);
        assert!(fit.contrast(&[(3, 1.0)]).unwrap().value.abs() < 1e-9);
        assert!((fit.carry_over(1).unwrap().value - 0.5).abs() < 1e-9);
        assert!(fit.carry_over(2).unwrap().value.abs() < 1e-9);
        assert!(fit.carry_over(0).is_none());
    }

    /// The must-hold: carry-over c in every cell after `on` biases `on` by less than
    /// 0.05c (the per-round paired mean is biased by about -0.22c), with noise, over many runs.
    #[test]
    fn carry_over_after_a_mode_does_not_bias_its_estimate() {
        let mut rng = StdRng::seed_from_u64(7);
        let c = 1.0;
        let runs = 2000;
        let (mut model, mut paired) = (0.0, 0.0);
        for _ in 0..runs {
            let obs = simulate(4, 8, &mut rng, |t, prev, rng| {
                [0.0, 0.3, 0.1, 0.0][t] + if prev == 1 { c } else { 0.0 } + 0.5 * normal(rng)
            });
            let fit = fit(&obs, 4, 3).unwrap();
            model += fit.contrast(&[(1, 1.0), (3, -0.5)]).unwrap().value - 0.3;
            // The method before: per round, on minus the mean of the baseline's two cells.
            let mut sum = 0.0;
            for round in 0..8 {
                let y = |t| {
                    obs.iter()
                        .find(|o| o.round == round && o.treatment == t)
                        .unwrap()
                        .y
                };
                sum += y(1) - 0.5 * (y(0) + y(3));
            }
            paired += sum / 8.0 - 0.3;
        }
        let (model, paired) = (model / f64::from(runs), paired / f64::from(runs));
        assert!(model.abs() < 0.05 * c, "model bias {model}");
        assert!(
            paired < -0.15 * c,
            "the paired mean's bias {paired} shows the problem"
        );
    }

    #[test]
    fn the_residual_variance_gives_intervals_that_cover() {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut covered, runs) = (0, 2000);
        for _ in 0..runs {
            let obs = simulate(4, 8, &mut rng, |t, _, rng| {
                [0.0, 1.0, 0.0, 0.0][t] + normal(rng)
            });
            let e = fit(&obs, 4, 3)
                .unwrap()
                .contrast(&[(1, 1.0), (3, -0.5)])
                .unwrap();
            let half = crate::analysis::stats::t975(e.df) * e.se.unwrap();
            covered += usize::from((e.value - 1.0).abs() <= half);
        }
        let share = covered as f64 / f64::from(runs);
        assert!((0.93..0.97).contains(&share), "coverage {share}");
    }

    #[test]
    fn an_order_that_confounds_carry_over_falls_back_without_it() {
        // The same order every round: `on` always follows off, and off's A/A always follows on.
        let obs: Vec<Obs> = (0..6)
            .flat_map(|round| {
                [(0, 3), (1, 0), (3, 1)].into_iter().enumerate().map(
                    move |(position, (t, prev))| Obs {
                        round,
                        position,
                        treatment: t,
                        previous: if prev == 3 { 0 } else { prev },
                        y: f64::from(round) + if t == 1 { 2.0 } else { 0.0 },
                    },
                )
            })
            .collect();
        let fit = fit(&obs, 4, 2).unwrap();
        assert!(!fit.carry_over_estimable);
        assert!((fit.contrast(&[(1, 1.0)]).unwrap().value - 2.0).abs() < 1e-9);
        // Treatment 2 never measured: not estimable.
        assert!(fit.contrast(&[(2, 1.0)]).is_none());
    }
}
