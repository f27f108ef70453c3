//! One HdrHistogram interval log (V2, compressed) per mode and rate: the per-second latency
//! histograms of every cell, in time order, so HdrHistogram's own tools (Java's
//! HistogramLogProcessor, Python's `hdrh`, this crate's reader) can re-analyse a run or merge
//! several. Rebuilt from the cells' sparse per-second histograms, which are exact.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

use super::{Exporter, Summary, fmt_rate};

/// The interval log of one mode at one rate.
pub struct Hlog {
    pub mode: String,
    pub rate: f64,
}

/// The legend line Java's `HistogramLogWriter` writes after the header (its reader skips it).
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

impl Exporter for Hlog {
    fn file_name(&self) -> String {
        format!("hlog/{}-{}rps.hlog", self.mode, fmt_rate(self.rate))
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let results = &summary.results;
        let mut cells: Vec<_> = results
            .cells
            .iter()
            .filter(|c| c.mode == self.mode && c.rate == self.rate)
            .collect();
        cells.sort_by_key(|c| c.window_start_unix_ms);

        let base = UNIX_EPOCH + Duration::from_millis(results.started_unix_ms.max(0) as u64);
        let mut header = IntervalLogWriterBuilder::new();
        header
            .add_comment(&format!(
                "Latency of mode {} at {} requests/s, scenario {}, written by tracebench {}",
                self.mode,
                fmt_rate(self.rate),
                results.scenario_name,
                results.environment.tracebench_version
            ))
            .add_comment(
                "Values are corrected latency (from each request's due time) in microseconds (us); \
                 Interval_Max is in us too.",
            )
            .add_comment(
                "One interval per second of each cell's measured window; warm-up excluded.",
            )
            .with_start_time(base)
            .with_base_time(base);
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        header.begin_log_with(&mut out, &mut serializer)?;
        out.extend_from_slice(LEGEND.as_bytes());

        let mut log = IntervalLogWriterBuilder::new().begin_log_with(&mut out, &mut serializer)?;
        for cell in cells {
            let replicate = if cell.replicate > 0 {
                " (the baseline's second cell)"
            } else {
                ""
            };
            log.write_comment(&format!(
                "round {}{replicate} (cell {} of the run)",
                cell.round, cell.order
            ))?;
            for second in &cell.seconds {
                let start_ms = cell.window_start_unix_ms - results.started_unix_ms
                    + i64::from(second.offset_s) * 1000;
                log.write_histogram(
                    &second.latency_us.to_hdr()?,
                    Duration::from_millis(start_ms.max(0) as u64),
                    Duration::from_secs(1),
                    None,
                )
                .map_err(|err| anyhow!("writing interval: {err}"))?;
            }
        }
        Ok(out)
    }
}
