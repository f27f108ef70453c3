//! `tracebench compare`: load the baseline runs and the candidate, compare, print the Markdown
//! table (and append it to `$GITHUB_STEP_SUMMARY` when set), exit 1 on regression.

use std::io::Write;

use anyhow::Context;

use crate::cli::CompareArgs;
use crate::compare::{Rule, Thresholds, compare, load_summary, run_paths};
use crate::exit::Exit;

pub async fn run(args: CompareArgs) -> anyhow::Result<Exit> {
    let rule = Rule {
        thresholds: Thresholds::parse(&args.thresholds)?,
        gate_absolute: args.gate_absolute,
    };
    let paths = run_paths(&args.baselines)?;
    let baselines = paths
        .iter()
        .map(|p| load_summary(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let candidate = load_summary(&args.candidate)?;
    let comparison = compare(&baselines, &candidate, &rule);
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let markdown = comparison.to_markdown(&names, &args.candidate.display().to_string());
    print!("{markdown}");
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let path = std::path::PathBuf::from(path);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening $GITHUB_STEP_SUMMARY ({})", path.display()))?;
        writeln!(file, "{markdown}")
            .with_context(|| format!("appending to $GITHUB_STEP_SUMMARY ({})", path.display()))?;
    }
    Ok(if comparison.regressions() > 0 {
        Exit::Fail
    } else {
        Exit::Pass
    })
}
