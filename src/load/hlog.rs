//! Per-second latency histograms as an HdrHistogram V2 interval log, the standard format that
//! HdrHistogram's readers in other languages (Java's HistogramLogReader, Python's `hdrh`) parse,
//! so timelines can be merged or plotted with existing tools.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::record::Interval;

/// The tag of the corrected latency histograms in the log.
pub const LATENCY_TAG: &str = "latency";

/// Writes `intervals` to `out` as a V2 interval log: values in µs, the `max` column in ms.
/// `BaseTime` and `StartTime` are the measured window's start; interval timestamps count from it.
pub fn write_log<W: Write>(
    out: &mut W,
    intervals: impl IntoIterator<Item = Interval>,
) -> Result<()> {
    let mut intervals = intervals.into_iter().peekable();
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment("tracebench drive: corrected latency (completion minus due time) per interval")
        .add_comment("histogram values are in microseconds; the max column is in milliseconds")
        .with_max_value_divisor(1000.0);
    if let Some(first) = intervals.peek() {
        builder
            .with_start_time(first.window_start)
            .with_base_time(first.window_start);
    }
    let mut writer = builder.begin_log_with(out, &mut serializer)?;
    let tag = Tag::new(LATENCY_TAG);
    for interval in intervals {
        writer
            .write_histogram(&interval.latency, interval.start, interval.length, tag)
            .map_err(|e| anyhow::anyhow!("writing an interval histogram: {e}"))?;
    }
    Ok(())
}

/// Writes the intervals received on `rx` to the file at `path` as they arrive, flushing each,
/// so a run that dies keeps the log up to its last full second. Runs on a blocking thread.
pub fn spawn_file_writer(
    path: &Path,
    rx: std::sync::mpsc::Receiver<Interval>,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let path = path.to_owned();
    Ok(std::thread::spawn(move || {
        let mut out = FlushEach(BufWriter::new(file));
        write_log(&mut out, rx).with_context(|| format!("writing {}", path.display()))?;
        out.0
            .flush()
            .with_context(|| format!("writing {}", path.display()))
    }))
}

/// Flushes after every histogram line, so the file is complete up to the last closed interval.
struct FlushEach<W: Write>(W);

impl<W: Write> Write for FlushEach<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        if buf.ends_with(b"\n") {
            self.0.flush()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
