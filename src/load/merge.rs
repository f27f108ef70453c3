//! Several drivers' outputs as one: what N drivers that shared one schedule (`drive
//! --total-rate R --shard i/N --start-at T`) measured together. Each driver wrote a summary
//! (`--json`) and an interval log (`--hlog`); HDR histograms add, so the merged latency
//! percentiles are exact, not averaged: the interval logs' histograms are summed second by second
//! and over the whole window. Counts and rates add; each driver's own lag is shown beside them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde::{Deserialize, Serialize};

use super::record::Interval;
use super::summary::{LoadSummary, Percentiles};

/// One driver's outputs.
pub struct DriverOutput {
    /// What it is called in messages and in the merged summary (its file's stem).
    pub name: String,
    pub summary: LoadSummary,
    /// Its interval log's histograms, each with its absolute start.
    pub intervals: Vec<LogInterval>,
}

/// One interval of a log.
pub struct LogInterval {
    pub start: SystemTime,
    pub length: Duration,
    pub latency: Histogram<u64>,
}

/// Why outputs cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{name}: {reason}")]
    Unreadable { name: String, reason: String },
    #[error("the drivers' windows do not overlap ({windows}): start them together with --start-at")]
    Apart { windows: String },
    #[error("the histograms' settings differ ({settings}): merge the outputs of one tracebench")]
    Settings { settings: String },
    #[error("nothing to merge: give at least one driver's output")]
    Empty,
}

/// The merged outputs: the summary and the per-second histograms of all drivers (only their
/// latency histograms: an interval log holds nothing else).
pub struct Merged {
    pub summary: MergedSummary,
    pub intervals: Vec<Interval>,
}

/// What the drivers measured together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedSummary {
    /// The first driver's window start (the merged log's seconds count from it).
    pub window_start_unix_ms: i64,
    /// Sums over the drivers.
    pub requested_rate: f64,
    pub achieved_rate: f64,
    pub due: u64,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    pub dropped: u64,
    pub unfinished: u64,
    pub status_counts: BTreeMap<String, u64>,
    pub error_kinds: BTreeMap<String, u64>,
    /// Exact: from the sum of every driver's histograms.
    pub latency_ms: Percentiles,
    /// The merged log's intervals, in order (a last, partial one holds responses that came
    /// after the window): whether each drew on every driver is what shows that they ran together.
    pub seconds: Vec<MergedSecond>,
    /// Each driver's own figures, its lag among them.
    pub drivers: Vec<DriverShare>,
}

/// One interval of the merged log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedSecond {
    /// From the merged window's start, s.
    pub start_s: u64,
    pub length_ms: u64,
    /// How many drivers have an interval here, and the latencies recorded in them together.
    pub drivers: usize,
    pub count: u64,
}

impl MergedSummary {
    /// Intervals holding an interval of every driver.
    pub fn seconds_with_every_driver(&self) -> usize {
        let all = self.drivers.len();
        self.seconds.iter().filter(|s| s.drivers == all).count()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverShare {
    pub name: String,
    pub requested_rate: f64,
    pub achieved_rate: f64,
    pub completed: u64,
    pub errors: u64,
    pub dropped: u64,
    pub window_start_unix_ms: i64,
    pub window_end_unix_ms: i64,
    pub latency_ms: Percentiles,
    pub driver_lag_ms: Percentiles,
}

/// Reads an interval log written by `drive --hlog`.
pub fn read_log(name: &str, text: &[u8]) -> Result<Vec<LogInterval>, MergeError> {
    let bad = |reason: String| MergeError::Unreadable {
        name: name.to_owned(),
        reason,
    };
    let mut deserializer = Deserializer::new();
    let mut base = None;
    let mut intervals = Vec::new();
    for entry in IntervalLogIterator::new(text) {
        match entry.map_err(|e| bad(format!("not an interval log: {e:?}")))? {
            LogEntry::BaseTime(t) => base = Some(UNIX_EPOCH + t),
            LogEntry::StartTime(t) => {
                base.get_or_insert(UNIX_EPOCH + t);
            }
            LogEntry::Interval(i) => {
                let base =
                    base.ok_or_else(|| bad("an interval before the log's start time".into()))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .map_err(|e| bad(format!("an interval's histogram: {e}")))?;
                let latency: Histogram<u64> = deserializer
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| bad(format!("an interval's histogram: {e:?}")))?;
                intervals.push(LogInterval {
                    start: base + i.start_timestamp(),
                    length: i.duration(),
                    latency,
                });
            }
        }
    }
    Ok(intervals)
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Merges `drivers`: their windows must overlap and their histograms share one setting.
pub fn merge(drivers: &[DriverOutput]) -> Result<Merged, MergeError> {
    let settings = |h: &Histogram<u64>| (h.low(), h.high(), h.sigfig());
    let all = drivers
        .iter()
        .flat_map(|d| d.intervals.iter().map(move |i| (d, i)));
    let mut seen: Vec<(&str, (u64, u64, u8))> = Vec::new();
    for (d, i) in all {
        if !seen.iter().any(|(_, s)| *s == settings(&i.latency)) {
            seen.push((&d.name, settings(&i.latency)));
        }
    }
    if seen.len() > 1 {
        let settings = seen
            .iter()
            .map(|(name, (low, high, digits))| {
                format!("{name}: {low} to {high} at {digits} digits")
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(MergeError::Settings { settings });
    }
    let windows: Vec<(SystemTime, SystemTime)> = drivers
        .iter()
        .map(|d| {
            let start = d
                .intervals
                .iter()
                .map(|i| i.start)
                .min()
                .unwrap_or(UNIX_EPOCH);
            let end = d
                .intervals
                .iter()
                .map(|i| i.start + i.length)
                .max()
                .unwrap_or(UNIX_EPOCH);
            (start, end)
        })
        .collect();
    let t0 = windows.iter().map(|w| w.0).min().ok_or(MergeError::Empty)?;
    let latest_start = windows.iter().map(|w| w.0).max().unwrap_or(t0);
    let earliest_end = windows.iter().map(|w| w.1).min().unwrap_or(t0);
    if latest_start >= earliest_end {
        let windows = drivers
            .iter()
            .zip(&windows)
            .map(|(d, (s, e))| {
                let fmt = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
                format!("{} {} to {}", d.name, fmt(*s), fmt(*e))
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(MergeError::Apart { windows });
    }
    // Second k of the merged log holds every interval starting nearest to t0 + k s.
    let mut seconds: BTreeMap<u64, (Interval, Vec<usize>)> = BTreeMap::new();
    let mut whole = super::record::new_histogram();
    for (n, d) in drivers.iter().enumerate() {
        for i in &d.intervals {
            let offset = i.start.duration_since(t0).unwrap_or_default();
            let k = offset.as_secs_f64().round() as u64;
            let (merged, with) = seconds.entry(k).or_insert_with(|| {
                (
                    Interval {
                        window_start: t0,
                        start: Duration::from_secs(k),
                        length: i.length,
                        latency: super::record::new_histogram(),
                        completed: 0,
                        errors: 0,
                        slowest: Vec::new(),
                    },
                    Vec::new(),
                )
            });
            merged.length = merged.length.max(i.length);
            // Same settings (checked above): adding cannot fail.
            let _ = merged.latency.add(&i.latency);
            let _ = whole.add(&i.latency);
            if !with.contains(&n) {
                with.push(n);
            }
        }
    }
    let sum = |f: fn(&LoadSummary) -> u64| drivers.iter().map(|d| f(&d.summary)).sum::<u64>();
    let add_maps = |f: fn(&LoadSummary) -> &BTreeMap<String, u64>| {
        let mut out = BTreeMap::new();
        for d in drivers {
            for (k, v) in f(&d.summary) {
                *out.entry(k.clone()).or_insert(0) += v;
            }
        }
        out
    };
    let summary = MergedSummary {
        window_start_unix_ms: unix_ms(t0),
        requested_rate: drivers.iter().map(|d| d.summary.requested_rate).sum(),
        achieved_rate: drivers.iter().map(|d| d.summary.achieved_rate).sum(),
        due: sum(|s| s.due),
        sent: sum(|s| s.sent),
        completed: sum(|s| s.completed),
        errors: sum(|s| s.errors),
        dropped: sum(|s| s.dropped),
        unfinished: sum(|s| s.unfinished),
        status_counts: add_maps(|s| &s.status_counts),
        error_kinds: add_maps(|s| &s.error_kinds),
        latency_ms: Percentiles::from_hdr_us(&whole),
        seconds: seconds
            .iter()
            .map(|(k, (i, with))| MergedSecond {
                start_s: *k,
                length_ms: u64::try_from(i.length.as_millis()).unwrap_or(u64::MAX),
                drivers: with.len(),
                count: i.latency.len(),
            })
            .collect(),
        drivers: drivers
            .iter()
            .zip(&windows)
            .map(|(d, (start, end))| DriverShare {
                name: d.name.clone(),
                requested_rate: d.summary.requested_rate,
                achieved_rate: d.summary.achieved_rate,
                completed: d.summary.completed,
                errors: d.summary.errors,
                dropped: d.summary.dropped,
                window_start_unix_ms: unix_ms(*start),
                window_end_unix_ms: unix_ms(*end),
                latency_ms: d.summary.latency_ms,
                driver_lag_ms: d.summary.driver_lag_ms,
            })
            .collect(),
    };
    Ok(Merged {
        summary,
        intervals: seconds.into_values().map(|(i, _)| i).collect(),
    })
}

impl std::fmt::Display for MergedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} drivers: {:.1} req/s requested, {:.1} req/s achieved",
            self.drivers.len(),
            self.requested_rate,
            self.achieved_rate
        )?;
        writeln!(
            f,
            "requests: {} due, {} sent, {} completed, {} errors, {} dropped, {} unfinished",
            self.due, self.sent, self.completed, self.errors, self.dropped, self.unfinished
        )?;
        let p = &self.latency_ms;
        writeln!(
            f,
            "latency ms (all drivers): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            p.p50, p.p90, p.p99, p.p999, p.max
        )?;
        writeln!(
            f,
            "seconds: {}, {} with every driver",
            self.seconds.len(),
            self.seconds_with_every_driver()
        )?;
        for d in &self.drivers {
            writeln!(
                f,
                "  {}: {:.1} req/s achieved, {} completed, {} errors, {} dropped, latency p99 {:.3} ms, lag p99 {:.3} max {:.3} ms",
                d.name,
                d.achieved_rate,
                d.completed,
                d.errors,
                d.dropped,
                d.latency_ms.p99,
                d.driver_lag_ms.p99,
                d.driver_lag_ms.max
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver whose log holds one interval a second from `start` (s after the epoch), each
    /// recording `values` (µs).
    fn driver(name: &str, start: u64, values: &[&[u64]]) -> DriverOutput {
        let intervals = values
            .iter()
            .enumerate()
            .map(|(k, vs)| {
                let mut latency = crate::load::record::new_histogram();
                for v in *vs {
                    latency.record(*v).unwrap();
                }
                LogInterval {
                    start: UNIX_EPOCH + Duration::from_secs(start + k as u64),
                    length: Duration::from_secs(1),
                    latency,
                }
            })
            .collect();
        let completed = values.iter().map(|vs| vs.len() as u64).sum();
        DriverOutput {
            name: name.into(),
            summary: LoadSummary {
                requested_rate: 2.0,
                achieved_rate: 2.0,
                completed,
                ..LoadSummary::default()
            },
            intervals,
        }
    }

    #[test]
    fn seconds_line_up_by_start_and_name_the_drivers_in_each() {
        // b starts a second after a: second 0 holds only a, second 2 only b.
        let a = driver("a", 100, &[&[1000, 2000], &[3000]]);
        let b = driver("b", 101, &[&[4000], &[5000, 6000]]);
        let merged = merge(&[a, b]).unwrap();
        let seconds: Vec<(u64, usize, u64)> = merged
            .summary
            .seconds
            .iter()
            .map(|s| (s.start_s, s.drivers, s.count))
            .collect();
        assert_eq!(seconds, [(0, 1, 2), (1, 2, 2), (2, 1, 2)]);
        assert_eq!(merged.summary.seconds_with_every_driver(), 1);
        assert_eq!(merged.summary.completed, 6);
        assert!((merged.summary.achieved_rate - 4.0).abs() < 1e-9);
        // The whole histogram is every value: its max is the largest (to HDR precision).
        assert!((merged.summary.latency_ms.max - 6.0).abs() < 0.01);
        assert_eq!(merged.intervals.len(), 3);
        assert_eq!(merged.intervals[1].latency.len(), 2);
    }

    #[test]
    fn windows_apart_and_other_settings_are_refused() {
        let a = driver("a", 100, &[&[1000]]);
        let b = driver("b", 200, &[&[1000]]);
        let Err(err) = merge(&[a, b]) else {
            panic!("merged")
        };
        assert!(matches!(err, MergeError::Apart { .. }), "{err}");
        assert!(err.to_string().contains("--start-at"), "{err}");

        let a = driver("a", 100, &[&[1000]]);
        let mut b = driver("b", 100, &[&[1000]]);
        b.intervals[0].latency = Histogram::new_with_bounds(1, 1_000_000, 2).unwrap();
        let Err(err) = merge(&[a, b]) else {
            panic!("merged")
        };
        assert!(matches!(err, MergeError::Settings { .. }), "{err}");
        assert!(matches!(merge(&[]), Err(MergeError::Empty)));
    }
}
