//! The order of a run's cells, designed so that neither the order nor the cell before can bias a
//! verdict (Mytkowicz et al., ASPLOS 2009; Kalibera and Jones, ISMM 2013): on a shared machine a
//! cell inherits work from the one before it (the previous services' span export and teardown)
//! and drift moves every figure over time.
//!
//! Each round measures, at every rate, every mode once and the baseline a second time (its A/A
//! pair, a restart of its own); with variants, every variant's every mode, and each variant's
//! baseline a second time. Within a rate the n treatments follow a row of a Williams design:
//! a Latin square whose rows, taken together, put every treatment right after every other one
//! equally often (once per n rows for even n; twice per 2n rows for odd n, which need the mirror
//! rows too), and every treatment in every position equally often. Which treatment gets which
//! label, the order of the rows and the order of the rates in each round are drawn from the
//! run's seed, which changes per run unless given, so no mode owns a position across runs.
//! The run starts with one discarded cell, so that the first measured cell too follows a cell.
//! The plan goes to `load.max_rounds`; the run stops earlier, at a look, once every budget is
//! decided (`run::sequential`), and the rows keep cycling, so every square it ends on is whole.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::Scenario;
use crate::results::Design;

/// One cell of the plan: a mode at a rate in a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub mode: String,
    pub rate: f64,
    pub round: u32,
    /// 0; 1 for the baseline's second cell in a round (its A/A pair).
    pub replicate: u32,
    /// Position in execution order, 0-based (the discarded first cell included).
    pub order: u32,
    /// Run like any cell and thrown away: it gives the first measured cell a predecessor.
    pub discard: bool,
}

/// Rows of a Williams design for `n` treatments: `n` rows for even `n`, `2n` for odd `n`. Over
/// all rows, each ordered pair of distinct treatments is adjacent equally often.
pub fn williams(n: usize) -> Vec<Vec<usize>> {
    if n <= 1 {
        return vec![vec![0; n]];
    }
    // 0, 1, n-1, 2, n-2, ...: consecutive differences cover every residue once.
    let first: Vec<usize> = (0..n)
        .map(|j| {
            if j % 2 == 1 {
                j.div_ceil(2)
            } else {
                (n - j / 2) % n
            }
        })
        .collect();
    let mut rows: Vec<Vec<usize>> = (0..n)
        .map(|i| first.iter().map(|&t| (t + i) % n).collect())
        .collect();
    if n % 2 == 1 {
        let mirrored: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| r.iter().rev().copied().collect())
            .collect();
        rows.extend(mirrored);
    }
    rows
}

impl Scenario {
    /// The treatments of one rate: every mode in file order, then the baseline's A/A pair (with
    /// variants, each variant's baseline's).
    fn treatments(&self) -> Vec<(String, u32)> {
        let modes = self.modes.iter().map(|m| (m.name.clone(), 0));
        modes
            .chain(self.baselines().into_iter().map(|b| (b, 1)))
            .collect()
    }

    /// Rounds for a fully balanced order: a multiple of this many.
    pub fn balanced_rounds(&self) -> u32 {
        williams(self.treatments().len()).len() as u32
    }

    /// The sequential design a run follows: `load.rounds` before the first look, then whole
    /// squares of the order up to `load.max_rounds`.
    pub fn design(&self) -> Design {
        Design {
            min_rounds: self.load.rounds,
            max_rounds: self.load.max_rounds,
            square: self.balanced_rounds(),
        }
    }

    /// Every cell the run may measure, in execution order, for the order seed `seed`: first one
    /// discarded cell (the baseline at the first rate measured), then `max_rounds` rounds as the
    /// module doc describes (the run stops at a look once every budget is decided, so usually
    /// earlier). The same scenario and seed always give the same plan.
    pub fn plan(&self, seed: u64) -> Vec<Cell> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut treatments = self.treatments();
        treatments.shuffle(&mut rng);
        let mut rows = williams(treatments.len());
        rows.shuffle(&mut rng);
        let mut cells: Vec<Cell> = Vec::new();
        let mut push = |mode: &str, rate: f64, round: u32, replicate: u32, discard: bool| {
            let order = cells.len() as u32;
            cells.push(Cell {
                mode: mode.to_string(),
                rate,
                round,
                replicate,
                order,
                discard,
            });
        };
        let mut rates_by_round = Vec::new();
        for _ in 0..self.load.max_rounds {
            let mut rates = self.load.rates.clone();
            rates.shuffle(&mut rng);
            rates_by_round.push(rates);
        }
        if let Some(&first_rate) = rates_by_round.first().and_then(|r| r.first()) {
            push(&self.baselines()[0], first_rate, 0, 0, true);
        }
        for (round, rates) in rates_by_round.iter().enumerate() {
            let row = &rows[round % rows.len()];
            for &rate in rates {
                for &t in row {
                    let (mode, replicate) = &treatments[t];
                    push(mode, rate, round as u32, *replicate, false);
                }
            }
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A mode and its replicate.
    type Treatment<'a> = (&'a str, u32);

    /// How often each ordered pair of treatments is adjacent over `rows`.
    fn follows(rows: &[Vec<usize>]) -> BTreeMap<(usize, usize), usize> {
        let mut counts = BTreeMap::new();
        for row in rows {
            for w in row.windows(2) {
                *counts.entry((w[0], w[1])).or_default() += 1;
            }
        }
        counts
    }

    #[test]
    fn williams_rows_balance_carry_over_and_position() {
        for n in 2..=7 {
            let rows = williams(n);
            assert_eq!(rows.len(), if n % 2 == 0 { n } else { 2 * n }, "n = {n}");
            let counts = follows(&rows);
            assert_eq!(
                counts.len(),
                n * (n - 1),
                "every ordered pair occurs, n = {n}"
            );
            let each = if n % 2 == 0 { 1 } else { 2 };
            assert!(counts.values().all(|&c| c == each), "n = {n}: {counts:?}");
            for position in 0..n {
                let mut seen: Vec<usize> = rows.iter().map(|r| r[position]).collect();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(
                    seen.len(),
                    n,
                    "every treatment in position {position}, n = {n}"
                );
            }
        }
        assert_eq!(williams(1), vec![vec![0]]);
    }

    fn scenario(rounds: u32, rates: &str) -> Scenario {
        scenario_to(rounds, rounds, rates)
    }

    fn scenario_to(rounds: u32, max_rounds: u32, rates: &str) -> Scenario {
        let text = format!(
            "[target]\nkind = \"external\"\n[[target.services]]\nname = \"svc\"\n\
             [request]\nurl = \"http://127.0.0.1:8080/\"\n\
             [load]\nrates = {rates}\nrounds = {rounds}\nmax_rounds = {max_rounds}\n"
        );
        Scenario::from_str(&text, "t.toml").unwrap()
    }

    #[test]
    fn a_plan_has_one_discarded_cell_then_every_treatment_once_per_rate_and_round() {
        let s = scenario(8, "[10, 20]");
        let plan = s.plan(3);
        assert!(plan[0].discard && plan[0].mode == "off" && plan[0].replicate == 0);
        assert!(plan[1..].iter().all(|c| !c.discard));
        assert!(plan.iter().enumerate().all(|(i, c)| c.order == i as u32));
        assert_eq!(
            plan.len(),
            1 + 8 * 2 * 4,
            "off twice, on, sampled, per rate and round"
        );
        for round in 0..8 {
            for rate in [10.0, 20.0] {
                let mut cells: Vec<(&str, u32)> = plan[1..]
                    .iter()
                    .filter(|c| c.round == round && c.rate == rate)
                    .map(|c| (c.mode.as_str(), c.replicate))
                    .collect();
                cells.sort_unstable();
                assert_eq!(cells, [("off", 0), ("off", 1), ("on", 0), ("sampled", 0)]);
            }
        }
        // A rate's cells are contiguous in a round, so within each rate block every treatment
        // follows every other exactly once over 4 rounds (4 treatments: an even Williams square).
        assert_eq!(s.balanced_rounds(), 4);
        let mut pairs: BTreeMap<(Treatment, Treatment), usize> = BTreeMap::new();
        for w in plan[1..].windows(2) {
            if w[0].round == w[1].round && w[0].rate == w[1].rate && w[0].rate == 10.0 {
                let key = (
                    (w[0].mode.as_str(), w[0].replicate),
                    (w[1].mode.as_str(), w[1].replicate),
                );
                *pairs.entry(key).or_default() += 1;
            }
        }
        assert_eq!(pairs.len(), 12);
        assert!(
            pairs.values().all(|&n| n == 2),
            "8 rounds = two squares: {pairs:?}"
        );
    }

    #[test]
    fn the_seed_fixes_the_order_and_different_seeds_change_it() {
        let s = scenario(4, "[10]");
        assert_eq!(s.plan(7), s.plan(7));
        let orders: std::collections::BTreeSet<Vec<(String, u32)>> = (0..20)
            .map(|seed| {
                s.plan(seed)
                    .into_iter()
                    .map(|c| (c.mode, c.replicate))
                    .collect()
            })
            .collect();
        assert!(
            orders.len() > 10,
            "the seed must change the order: {}",
            orders.len()
        );
    }

    #[test]
    fn a_plan_goes_to_max_rounds_and_each_square_past_the_minimum_is_balanced() {
        let s = scenario_to(4, 12, "[10]");
        let plan = s.plan(5);
        assert_eq!(plan.len(), 1 + 12 * 4);
        assert_eq!(plan.last().map(|c| c.round), Some(11));
        for square in [4..8, 8..12] {
            let rows: Vec<Vec<usize>> = square
                .map(|round| {
                    plan[1..]
                        .iter()
                        .filter(|c| c.round == round)
                        .map(|c| match (c.mode.as_str(), c.replicate) {
                            ("off", 1) => 3,
                            (mode, _) => ["off", "on", "sampled"]
                                .iter()
                                .position(|&m| m == mode)
                                .unwrap(),
                        })
                        .collect()
                })
                .collect();
            let counts = follows(&rows);
            assert!(
                counts.len() == 12 && counts.values().all(|&n| n == 1),
                "{counts:?}"
            );
        }
    }
}
