//! Counting with TraceQL metrics: `count_over_time` of each trace's root span
//! (`nestedSetParent = -1`, the root marker Tempo's vParquet4 stores), placed by the version.
//!
//! Every interval is asked for whole: the step is the count's step when the window lies on step
//! boundaries, else one second, so no interval straddles the window's edge. Each version's
//! stamping ([`Stamping`]) maps a sample back to its interval; a sample anywhere else, a missing
//! interval, several series or a partial answer is an error, never a count.
//!
//! One difference from search remains: from 2.9 an interval is `(t - step, t]`, so the window
//! counted is `(start, end]`: a root span starting on the exact nanosecond of a second's edge
//! counts in the second before it. Search has no such edge.

use std::collections::BTreeMap;

use super::server::{Server, Stamping};
use super::{CountError, CountRequest, ServiceCounts, quoted, steps};
use crate::traces::model::MetricsResponse;
use crate::traces::tempo::TempoClient;

/// Longest stretch asked for at once: within every version's `max_duration` (3 h in 2.x) and
/// `max_intervals` (10,000 from 2.9) at a one-second step.
const CHUNK_S: u64 = 7_200;

pub async fn count(
    client: &TempoClient,
    server: &Server,
    request: &CountRequest,
    root: Option<&str>,
) -> Result<ServiceCounts, CountError> {
    let stamping = server.stamping().map_err(CountError::Metrics)?;
    let service = root.ok_or_else(|| {
        CountError::Metrics(
            "counting every trace needs search (metrics count root spans of one service)".into(),
        )
    })?;
    let q = format!(
        "{{ resource.service.name = {} && nestedSetParent = -1 }} | count_over_time()",
        quoted(service)
    );
    let aligned = request.start_s % request.step_s == 0 && request.end_s % request.step_s == 0;
    let t = if aligned { request.step_s } else { 1 };
    let chunk = (CHUNK_S / t).max(1) * t;
    let mut per_step = vec![0; steps(request)];
    let mut queries = 0;
    let mut from = request.start_s;
    while from < request.end_s {
        let to = (from + chunk).min(request.end_s);
        // Before 2.9 the last sample (at `end`) is partial; asking one interval further keeps
        // every wanted one whole and avoids the one-interval "instant" form.
        let end = match stamping {
            Stamping::AtStart => to + t,
            Stamping::AtEnd => to,
        };
        let answer = client.metrics_query_range(&q, from, end, t).await?;
        queries += 1;
        let window = Window {
            from,
            to,
            end,
            step: t,
        };
        let counts = interval_counts(&answer, stamping, &window)?;
        for (interval, count) in counts {
            per_step[((interval - request.start_s) / request.step_s) as usize] += count;
        }
        from = to;
    }
    Ok(ServiceCounts {
        service: service.to_string(),
        total: per_step.iter().sum(),
        per_step,
        complete: None,
        incomplete: None,
        queries,
    })
}

/// One query's stretch: the intervals `[from, to)` by `step` seconds, asked up to `end`.
struct Window {
    from: u64,
    to: u64,
    end: u64,
    step: u64,
}

/// Interval start (unix s) -> count, for every interval of `[from, to)`, from one answer; an
/// error for an answer a correct Tempo would not give (a status, several series, a sample off
/// the step or outside the window, a value that is not a count, a missing interval).
fn interval_counts(
    answer: &MetricsResponse,
    stamping: Stamping,
    window: &Window,
) -> Result<BTreeMap<u64, u64>, CountError> {
    let Window {
        from,
        to,
        end,
        step: t,
    } = *window;
    // The intervals a sample may stand for: before 2.9 one per step from `from` to `end`
    // inclusive; from 2.9 also the one added before `from`, up to the one ending at `to`.
    let (first, last) = match stamping {
        Stamping::AtStart => (from, end),
        Stamping::AtEnd => (from.saturating_sub(t), to - t),
    };
    if !answer.status.is_empty() {
        return Err(CountError::Metrics(format!(
            "Tempo answered {} ({})",
            answer.status, answer.message
        )));
    }
    if answer.series.len() > 1 {
        return Err(CountError::Metrics(format!(
            "expected one series, got {}",
            answer.series.len()
        )));
    }
    // Interval start (unix s) -> count, for every interval of [from, to).
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for sample in answer.series.iter().flat_map(|s| &s.samples) {
        let misplaced = |why: &str| {
            CountError::Metrics(format!(
                "a sample at {} ms {why} (asked [{from}, {end}) by {t} s)",
                sample.timestamp_ms
            ))
        };
        if sample.timestamp_ms % (t * 1000) != 0 {
            return Err(misplaced("is not on the step"));
        }
        let at = sample.timestamp_ms / 1000;
        let interval = match stamping {
            Stamping::AtStart => at,
            Stamping::AtEnd => at.checked_sub(t).ok_or_else(|| misplaced("is too early"))?,
        };
        if !(first..=last).contains(&interval) {
            return Err(misplaced("is outside the window"));
        }
        // The interval added before the start (2.9+) and the ones past the end (before
        // 2.9) are outside the window: not counted.
        if (from..to).contains(&interval) {
            let value = if sample.value.is_nan() {
                0.0
            } else {
                sample.value
            };
            if value < 0.0 || value.fract() != 0.0 {
                return Err(misplaced(&format!("holds {value}, not a count")));
            }
            counts.insert(interval, value as u64);
        }
    }
    if !answer.series.is_empty() {
        let missing = (from..to)
            .step_by(t as usize)
            .find(|i| !counts.contains_key(i));
        if let Some(missing) = missing {
            return Err(CountError::Metrics(format!(
                "no sample for the interval starting at {missing} s (asked [{from}, {end}) \
                 by {t} s)"
            )));
        }
    }
    Ok(counts)
}
