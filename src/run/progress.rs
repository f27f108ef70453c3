//! What a run shows while it runs: on a terminal, one bar for the plan and one for the current
//! cell (live rate, p99 and errors from the driver's per-second intervals); otherwise one plain
//! line per step on stderr, so logs of CI jobs stay readable; nothing with `--quiet`.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::load::Interval;
use crate::results::CellResult;
use crate::scenario::Cell;

#[derive(Clone)]
pub enum Progress {
    Bars(Arc<Bars>),
    Lines { total: usize },
    Quiet,
}

pub struct Bars {
    plan: ProgressBar,
    cell: ProgressBar,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise, nothing when `quiet`; `total` is
    /// the plan's cells, the most a run measures.
    pub fn new(total: usize, cell_seconds: u64, quiet: bool) -> Progress {
        use std::io::IsTerminal;
        if quiet {
            return Progress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { total };
        }
        let multi = MultiProgress::new();
        let plan = multi.add(ProgressBar::new(total as u64));
        plan.set_style(
            ProgressStyle::with_template("plan  [{bar:30}] {pos}/{len} cells, {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let cell = multi.add(ProgressBar::new(cell_seconds));
        cell.set_style(
            ProgressStyle::with_template("cell  [{bar:30}] {pos}/{len} s {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        plan.enable_steady_tick(Duration::from_millis(500));
        Progress::Bars(Arc::new(Bars { plan, cell }))
    }

    pub fn cell_started(&self, cell: &Cell, stage: &str) {
        let round = if cell.discard {
            "discarded first cell".to_string()
        } else {
            format!("round {}", cell.round + 1)
        };
        let name = format!("{} @ {} rps, {round}", cell.mode, cell.rate);
        match self {
            Progress::Bars(b) => {
                b.cell.set_position(0);
                b.cell.set_prefix(name);
                b.cell.set_message(stage.to_string());
            }
            Progress::Lines { total } => {
                eprintln!("[{}/{total}] {name}: {stage}", cell.order + 1)
            }
            Progress::Quiet => {}
        }
    }

    pub fn interval(&self, interval: &Interval) {
        if let Progress::Bars(b) = self {
            let secs = interval.length.as_secs_f64().max(1e-3);
            b.cell
                .set_position((interval.start + interval.length).as_secs());
            b.cell.set_message(format!(
                "{:.0} rps, p99 {:.2} ms, {} errors",
                interval.completed as f64 / secs,
                interval.latency.value_at_quantile(0.99) as f64 / 1000.0,
                interval.errors
            ));
        }
    }

    /// A finished cell; `discarded` for the run's first cell, which is not analysed.
    pub fn cell_done(&self, result: &CellResult, discarded: bool) {
        let round = if discarded {
            "discarded first cell".to_string()
        } else {
            format!("round {}", result.round + 1)
        };
        let line = format!(
            "{} @ {} rps, {round}: {:.1} rps, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
            result.mode,
            result.rate,
            result.load.achieved_rate,
            result.load.latency_ms.p50,
            result.load.latency_ms.p99,
            result.load.errors,
            if result.load.partial {
                " (cut short)"
            } else {
                ""
            }
        );
        match self {
            Progress::Bars(b) => {
                b.cell.set_position(b.cell.length().unwrap_or(0));
                b.plan.inc(1);
                b.plan.println(line);
            }
            Progress::Lines { total } => eprintln!("[{}/{total}] {line}", result.order + 1),
            Progress::Quiet => {}
        }
    }

    /// The run stopped at a look before the plan's last cell: the bar ends where it is.
    pub fn plan_ended(&self) {
        if let Progress::Bars(b) = self {
            b.plan.set_length(b.plan.position());
        }
    }

    /// A step outside the cells (build, counting traces, probes).
    pub fn note(&self, message: &str) {
        match self {
            Progress::Bars(b) => {
                b.plan.set_message(message.to_string());
                b.plan.println(message);
            }
            Progress::Lines { .. } => eprintln!("{message}"),
            Progress::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Progress::Bars(b) = self {
            b.cell.finish_and_clear();
            b.plan.finish_and_clear();
        }
    }
}
