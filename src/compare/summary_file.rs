//! Reading a run's summary.json (or its run directory) for `compare` and `report`, converting
//! the schema version before the current one, and analyzing the results of a run that was
//! killed before it wrote its analysis.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::analysis::Summary;
use crate::error::UsageError;
use crate::results::SCHEMA_VERSION;

/// Reads a `summary.json`, or the one in a run directory. Errors name the file and are usage
/// errors (exit 2): a missing, unreadable or foreign file, or another schema version.
pub fn load_summary(path: &Path) -> anyhow::Result<Summary> {
    let file: PathBuf = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let usage = |what: String| UsageError(format!("{}: {what}", file.display()));
    let text = std::fs::read_to_string(&file).map_err(|e| {
        usage(format!(
            "cannot read ({e}); expected a summary.json or a run directory"
        ))
    })?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| usage(format!("not JSON ({e})")))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(2) => encode_histograms(&mut value).map_err(|e| usage(format!("{e:#}")))?,
        Some(v) => {
            return Err(usage(format!(
                "schema_version {v}, but this tracebench reads version {SCHEMA_VERSION} (and 2)"
            ))
            .into());
        }
        None => {
            return Err(usage("no schema_version: not a tracebench summary.json".into()).into());
        }
    }
    if value.get("analysis").is_none() {
        // A run killed before it concluded: analyze the cells it left, as it would have.
        let results = serde_json::from_value(value["results"].clone())
            .map_err(|e| usage(format!("not a valid summary ({e})")))?;
        value["analysis"] = serde_json::to_value(crate::analysis::analyze(&results))?;
    }
    Ok(serde_json::from_value(value).map_err(|e| usage(format!("not a valid summary ({e})")))?)
}

/// The runs named: a summary.json or a run directory is one run; a directory without a
/// summary.json is a directory of runs, each of its subdirectories holding one (in name order,
/// which is time order for run directories).
pub fn run_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut runs = Vec::new();
    for path in paths {
        if !path.is_dir() || path.join("summary.json").is_file() {
            runs.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .with_context(|| format!("reading the directory {}", path.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.join("summary.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(UsageError(format!(
                "{}: no summary.json in it or in any directory in it; expected a summary.json, \
                 a run directory or a directory of run directories",
                path.display()
            ))
            .into());
        }
        found.sort();
        runs.extend(found);
    }
    Ok(runs)
}

/// Reads a schema-2 summary as schema 3: each cell's and second's bucket list becomes its
/// encoding.
fn encode_histograms(value: &mut serde_json::Value) -> anyhow::Result<()> {
    use crate::results::{EncodedHistogram, SparseHistogram};
    let encode = |latency: &mut serde_json::Value| -> anyhow::Result<()> {
        let buckets: SparseHistogram = serde_json::from_value(latency.take())
            .context("a schema-2 latency histogram is not a bucket list")?;
        *latency = serde_json::to_value(EncodedHistogram::from_hdr(&buckets.to_hdr()?))?;
        Ok(())
    };
    let cells = value
        .pointer_mut("/results/cells")
        .and_then(|c| c.as_array_mut())
        .context("schema 2 summary without results.cells")?;
    for cell in cells.iter_mut() {
        if let Some(latency) = cell.get_mut("latency") {
            encode(latency)?;
        }
        for second in cell
            .get_mut("seconds")
            .and_then(|s| s.as_array_mut())
            .into_iter()
            .flatten()
        {
            if let Some(latency) = second.get_mut("latency_us") {
                encode(latency)?;
            }
        }
    }
    value["schema_version"] = SCHEMA_VERSION.into();
    value["results"]["schema_version"] = SCHEMA_VERSION.into();
    Ok(())
}
