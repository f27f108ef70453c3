//! Reports: every report file of a run directory (summary.json included; the services' logs
//! and the journal are written by the run), rendered from one [`Summary`] (results plus
//! analysis). One exporter per format, each a pure function from the
//! summary to bytes, so `tracebench run` and `tracebench report DIR` write the same files and a
//! test can check each format without touching the disk. Exporters do no statistics: figures
//! with intervals come from the analysis; the raw series (histograms, samples) from the results.

pub mod charts;
mod csv;
mod hlog;
mod html;
mod json;
mod markdown;
mod sections;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use crate::analysis::Summary;
pub(crate) use html::{escape, inline_svg};
pub use markdown::verdicts_md;

/// One output file of a run directory.
pub trait Exporter {
    /// Where the output goes, relative to the run directory (`report.md`, `charts/x.svg`).
    fn file_name(&self) -> String;
    fn render(&self, summary: &Summary) -> Result<Vec<u8>>;
}

/// Every exporter for this summary: the fixed files, then one interval log per mode and rate,
/// then each chart as SVG and PNG.
pub fn exporters(summary: &Summary) -> Result<Vec<Box<dyn Exporter>>> {
    // The chart data is built once: the HTML inlines the same charts the chart files draw.
    let charts = charts::all(summary)?;
    let mut all: Vec<Box<dyn Exporter>> = vec![
        Box::new(json::Json),
        Box::new(csv::CellsCsv),
        Box::new(csv::ResourcesCsv),
        Box::new(markdown::Markdown),
        Box::new(html::Html {
            charts: charts.clone(),
        }),
    ];
    for group in &summary.analysis.groups {
        all.push(Box::new(hlog::Hlog {
            mode: group.mode.clone(),
            rate: group.rate,
        }));
    }
    for chart in charts {
        for format in [charts::Format::Svg, charts::Format::Png] {
            all.push(Box::new(charts::ChartFile {
                chart: chart.clone(),
                format,
            }));
        }
    }
    Ok(all)
}

/// Renders every exporter into `dir` (creating sub-directories); returns the paths written.
pub fn write_all(dir: &Path, summary: &Summary) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for exporter in exporters(summary)? {
        let path = dir.join(exporter.file_name());
        let bytes = exporter
            .render(summary)
            .with_context(|| format!("rendering {}", exporter.file_name()))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating directory {}", parent.display()))?;
        }
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader (or a
/// crash) sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

/// The distinct items in first-seen order (for services, budgets: a handful, so a scan is fine).
pub fn unique<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// A rate for file names and labels: `100` for whole numbers, `12.5` otherwise.
pub fn fmt_rate(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_without_needless_decimals() {
        assert_eq!(fmt_rate(100.0), "100");
        assert_eq!(fmt_rate(12.5), "12.5");
    }

    #[test]
    fn unique_keeps_the_first_seen_order() {
        assert_eq!(unique(["b", "a", "b", "c", "a"]), ["b", "a", "c"]);
    }
}
