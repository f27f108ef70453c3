//! When a run stops adding rounds (design.md, "Deciding"). The plan goes to `load.max_rounds`;
//! after `load.rounds` and after every whole square beyond it (`Design::looks`), the run
//! analyzes what it has, says how many budgets are decided, and stops once all are, at
//! `max_rounds`, or when the next square would, at the pace so far, end after
//! `load.max_duration`. A look's verdicts are the analysis of the results so far, whose
//! boundaries already account for the looks taken, so stopping at one is not an interruption:
//! the trace counts and probes follow as after any run.

use std::time::{Duration, Instant};

use crate::analysis::{Analysis, Verdict};
use crate::results::Design;

/// Why the run measures no more rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Every budget judged while running is pass or fail.
    Decided,
    /// The plan's last round is done.
    MaxRounds,
    /// The rounds to the next look, at the pace so far, would end after `load.max_duration`.
    MaxDuration { estimate: Duration },
}

/// What the run does after a look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    Continue,
    Stop(Stop),
}

/// A look's outcome: after `rounds` whole rounds, `decided` of `total` budgets are decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub rounds: u32,
    pub decided: usize,
    pub total: usize,
}

/// The decision at a look. `elapsed` is the measuring time so far, `per_round` the time one
/// round took on average.
pub fn next_step(
    design: &Design,
    look: Look,
    elapsed: Duration,
    per_round: Duration,
    max_duration: Option<Duration>,
) -> Step {
    if look.decided >= look.total {
        return Step::Stop(Stop::Decided);
    }
    let Some(next) = design.looks().into_iter().find(|&r| r > look.rounds) else {
        return Step::Stop(Stop::MaxRounds);
    };
    let estimate = per_round * (next - look.rounds);
    match max_duration {
        Some(cap) if elapsed + estimate > cap => Step::Stop(Stop::MaxDuration { estimate }),
        _ => Step::Continue,
    }
}

impl Stop {
    /// Why the run stopped after `rounds` rounds, for the progress line.
    pub fn describe(self, rounds: u32, elapsed: Duration) -> String {
        match self {
            Stop::Decided => format!("every budget decided after round {rounds}"),
            Stop::MaxRounds => {
                format!("max_rounds reached ({rounds} rounds), not every budget decided")
            }
            Stop::MaxDuration { estimate } => format!(
                "max_duration would be exceeded by the next square (after round {rounds}: {} \
                 measured, about {} more)",
                whole_seconds(elapsed),
                whole_seconds(estimate)
            ),
        }
    }
}

fn whole_seconds(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

/// The measuring time: from the first cell (the discarded one), and from the first measured
/// cell, which the pace of a round is taken over.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    measured_from: Option<Instant>,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            measured_from: None,
        }
    }

    /// A cell that is kept begins (only the first one matters).
    pub fn measuring(&mut self) {
        self.measured_from.get_or_insert_with(Instant::now);
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The mean time of a round over the `rounds` done.
    pub fn per_round(&self, rounds: u32) -> Duration {
        let measured = self.measured_from.map_or(Duration::ZERO, |t| t.elapsed());
        measured / rounds.max(1)
    }
}

/// The progress line of a look: "look after round K: D of T budgets decided; undecided: ...".
pub fn look_note(look: Look, analysis: &Analysis) -> String {
    let mut note = format!(
        "look after round {}: {} of {} budgets decided",
        look.rounds, look.decided, look.total
    );
    let several_rates = analysis.rates().len() > 1;
    let undecided: Vec<String> = analysis
        .budgets
        .iter()
        .filter(|b| b.budget.judged_while_running() && b.verdict == Verdict::Inconclusive)
        .map(|b| {
            let rate = if several_rates {
                format!(" @ {} rps", b.rate)
            } else {
                String::new()
            };
            format!("{}{rate} {}", b.mode, b.budget.label())
        })
        .collect();
    const SHOWN: usize = 6;
    if !undecided.is_empty() {
        note.push_str("; undecided: ");
        note.push_str(&undecided[..undecided.len().min(SHOWN)].join(", "));
        if undecided.len() > SHOWN {
            note.push_str(&format!(" and {} more", undecided.len() - SHOWN));
        }
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn design(min_rounds: u32, max_rounds: u32, square: u32) -> Design {
        Design {
            min_rounds,
            max_rounds,
            square,
        }
    }

    fn look(rounds: u32, decided: usize, total: usize) -> Look {
        Look {
            rounds,
            decided,
            total,
        }
    }

    #[test]
    fn a_run_stops_once_every_budget_is_decided_and_else_goes_on_to_max_rounds() {
        let d = design(6, 18, 6);
        let step = |l| next_step(&d, l, 60 * SECOND, 10 * SECOND, None);
        assert_eq!(step(look(6, 6, 6)), Step::Stop(Stop::Decided));
        assert_eq!(step(look(6, 5, 6)), Step::Continue);
        assert_eq!(step(look(12, 5, 6)), Step::Continue);
        assert_eq!(step(look(18, 5, 6)), Step::Stop(Stop::MaxRounds));
        assert_eq!(step(look(18, 6, 6)), Step::Stop(Stop::Decided));
        // Nothing to decide while running (only trace budgets): the first look ends it.
        assert_eq!(step(look(6, 0, 0)), Step::Stop(Stop::Decided));
        // A fixed run has one look, at its end.
        let fixed = Design::fixed(8);
        assert_eq!(
            next_step(&fixed, look(8, 1, 2), SECOND, SECOND, None),
            Step::Stop(Stop::MaxRounds)
        );
    }

    #[test]
    fn a_run_stops_when_the_rounds_to_the_next_look_would_end_after_max_duration() {
        let d = design(4, 18, 4);
        let cap = Some(100 * SECOND);
        let step = |rounds, elapsed| next_step(&d, look(rounds, 1, 2), elapsed, 10 * SECOND, cap);
        // 4 rounds in 45 s, the next square about 40 s: 85 s fits, 105 s does not.
        assert_eq!(step(4, 45 * SECOND), Step::Continue);
        assert_eq!(
            step(4, 65 * SECOND),
            Step::Stop(Stop::MaxDuration {
                estimate: 40 * SECOND
            })
        );
        // Exactly at the cap still fits.
        assert_eq!(step(4, 60 * SECOND), Step::Continue);
        // The last look is only 2 rounds past this one (18 is not 16 plus a whole square).
        assert_eq!(step(16, 80 * SECOND), Step::Continue);
        assert_eq!(
            step(16, 81 * SECOND),
            Step::Stop(Stop::MaxDuration {
                estimate: 20 * SECOND
            })
        );
        // Decided wins over the time cap.
        assert_eq!(
            next_step(&d, look(4, 2, 2), 99 * SECOND, 10 * SECOND, cap),
            Step::Stop(Stop::Decided)
        );
    }

    #[test]
    fn each_stop_says_why() {
        assert_eq!(
            Stop::Decided.describe(6, SECOND),
            "every budget decided after round 6"
        );
        assert_eq!(
            Stop::MaxRounds.describe(18, SECOND),
            "max_rounds reached (18 rounds), not every budget decided"
        );
        assert_eq!(
            Stop::MaxDuration {
                estimate: Duration::from_millis(54_400)
            }
            .describe(2, Duration::from_millis(20_700)),
            "max_duration would be exceeded by the next square (after round 2: 20s measured, \
             about 54s more)"
        );
    }
}
