//! `tracebench report DIR`: re-render every report of a run directory from its summary.json,
//! e.g. after upgrading tracebench or to restore a deleted chart. The figures are not
//! recomputed: the reports show exactly what the run concluded.

use std::path::Path;

use crate::cli::ReportArgs;
use crate::compare::load_summary;
use crate::exit::Exit;
use crate::report;

pub async fn run(args: ReportArgs) -> anyhow::Result<Exit> {
    let summary = load_summary(&args.dir)?;
    // Given the summary.json itself rather than its directory, render beside it.
    let dir = if args.dir.is_file() {
        args.dir.parent().unwrap_or(Path::new("."))
    } else {
        args.dir.as_path()
    };
    let written = report::write_all(dir, &summary)?;
    println!(
        "{}: {} files written to {} (outcome: {})",
        summary.results.scenario_name,
        written.len(),
        dir.display(),
        summary.analysis.outcome.as_str()
    );
    Ok(Exit::Pass)
}
