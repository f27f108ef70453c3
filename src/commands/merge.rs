//! `tracebench merge`: the outputs of drivers that shared one schedule, as one summary and one
//! interval log ([`crate::load::merge`]). Outputs that cannot be merged (windows apart, other
//! histogram settings) are a usage error, exit 2.

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::MergeArgs;
use crate::error::UsageError;
use crate::exit::Exit;
use crate::load::LoadSummary;
use crate::load::hlog::write_log;
use crate::load::merge::{DriverOutput, merge, read_log};

pub fn run(args: MergeArgs) -> Result<Exit> {
    let drivers = args
        .summaries
        .iter()
        .map(|path| read_driver(path))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge(&drivers).map_err(|e| UsageError(e.to_string()))?;
    print!("{}", merged.summary);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&merged.summary)? + "\n";
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.hlog {
        let mut out = Vec::new();
        write_log(&mut out, merged.intervals)?;
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Exit::Pass)
}

/// A driver's summary and the interval log beside it.
fn read_driver(path: &Path) -> Result<DriverOutput> {
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let summary: LoadSummary = serde_json::from_slice(&text).map_err(|e| {
        UsageError(format!(
            "{}: not a summary written by `tracebench drive --json` ({e})",
            path.display()
        ))
    })?;
    let log = path.with_extension("hlog");
    let text = std::fs::read(&log).map_err(|e| {
        UsageError(format!(
            "{}: {e}; merge reads each driver's interval log beside its summary (drive --json {} \
             --hlog {})",
            log.display(),
            path.display(),
            log.display()
        ))
    })?;
    let intervals = read_log(&name, &text).map_err(|e| UsageError(e.to_string()))?;
    Ok(DriverOutput {
        name,
        summary,
        intervals,
    })
}
