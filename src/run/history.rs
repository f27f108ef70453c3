//! Earlier runs of the same scenario on this machine, read when a run starts, so the analysis
//! can widen each verdict by how much its overhead moves from run to run.
//!
//! Why: within a run the rounds share the machine's conditions; between runs the machine is
//! slower or busier, and no interval built from one run's rounds holds that. Unchanged code read
//! +0.33 pp (pass) in one run and +2.09 pp (fail) in another. The earlier runs' estimates and
//! standard errors give the variance between runs (their spread beyond what their own standard
//! errors explain), which the analysis adds to each look's. The earlier runs are the finished,
//! whole runs of the scenario (same name, same host) in the history directory: by default the
//! parent of the run directory, where `reports/<timestamp>-<name>/` runs collect.

use std::path::Path;

use crate::compare::load_summary;
use crate::results::{PastOverhead, PastRun};

/// The most earlier runs kept: the newest, so the estimate follows the machine as it is now.
const NEWEST: usize = 20;

/// The finished, whole runs of `scenario` on `hostname` under `dir` (each a directory holding a
/// summary.json with its analysis), newest first, `own` excluded. A directory that cannot be
/// read gives none.
pub fn earlier_runs(dir: &Path, scenario: &str, hostname: &str, own: &Path) -> Vec<PastRun> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let own = std::path::absolute(own).unwrap_or_else(|_| own.to_path_buf());
    let mut runs: Vec<PastRun> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("summary.json").is_file())
        .filter(|p| std::path::absolute(p).is_ok_and(|p| p != own))
        .filter_map(|p| {
            let s = load_summary(&p).ok()?;
            let r = &s.results;
            let whole = !r.partial && r.finished_unix_ms.is_some();
            (whole && r.scenario_name == scenario && r.environment.hostname == hostname).then(
                || PastRun {
                    dir: p.display().to_string(),
                    started_unix_ms: r.started_unix_ms,
                    overheads: s
                        .analysis
                        .budgets
                        .iter()
                        .filter(|b| b.budget.judged_while_running())
                        .filter_map(|b| {
                            let e = b.overhead?;
                            Some(PastOverhead {
                                mode: b.mode.clone(),
                                rate: b.rate,
                                budget: b.budget.clone(),
                                value: e.value,
                                se: e.se.filter(|&se| se > 0.0)?,
                            })
                        })
                        .collect(),
                },
            )
        })
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_unix_ms));
    runs.truncate(NEWEST);
    runs
}
