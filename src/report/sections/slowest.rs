//! The slowest requests of each traced mode and rate, linked to their traces, with where their
//! latency went (the analysis's [`SlowestGroup`](crate::analysis::SlowestGroup)s).

use super::*;
use crate::results::Breakdown;

/// The section, when any cell kept its slowest requests.
pub(super) fn slowest(summary: &Summary) -> Option<Section> {
    let groups = &summary.analysis.slowest;
    if groups.is_empty() {
        return None;
    }
    let mut s = Section::new(Topic::Slowest, "Slowest requests and their traces");
    let mut table = Table {
        header: strings(&[
            "mode",
            "rate (req/s)",
            "latency (ms)",
            "service time (ms)",
            "round",
            "status",
            "trace",
            "where the time went (ms)",
        ]),
        rows: Vec::new(),
        links: Vec::new(),
    };
    for g in groups {
        let latencies = g.requests.iter().map(|r| r.request.latency_ms);
        let (low, high) = latencies.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
        let head = format!(
            "Slowest {} at {} at {} req/s ({low:.2} to {high:.2} ms)",
            g.requests.len(),
            g.mode,
            fmt_rate(g.rate)
        );
        s.paragraphs.push(match &g.mean {
            _ if g.with_trace == 0 => format!("{head}: no response named a trace."),
            Some(mean) => format!(
                "{head}: {}; mean latency {:.2} ms ({} of {} named a trace, {} found).",
                parts(mean),
                mean.total_ms(),
                g.with_trace,
                g.requests.len(),
                g.found
            ),
            None => format!(
                "{head}: {} named a trace, none was found in the store.",
                g.with_trace
            ),
        });
        if g.with_trace == 0 {
            continue;
        }
        for r in &g.requests {
            let trace =
                r.request
                    .trace_id
                    .map_or("-".to_string(), |t| match (r.found, r.complete) {
                        (Some(false), _) => format!("{t} (not found)"),
                        (_, Some(false)) => format!("{t} (incomplete)"),
                        _ => t.to_string(),
                    });
            if let Some(url) = &r.link {
                table.links.push((table.rows.len(), 6, url.clone()));
            }
            table.rows.push(vec![
                g.mode.clone(),
                fmt_rate(g.rate),
                format!("{:.3}", r.request.latency_ms),
                format!("{:.3}", r.request.service_time_ms),
                (r.round + 1).to_string(),
                r.request.outcome.clone(),
                trace,
                r.breakdown.as_ref().map_or("-".to_string(), parts),
            ]);
        }
    }
    s.paragraphs.push(
        "Each request's latency (from its due time) splits into the driver's lag (due to sent), \
         time outside any span (the network, and work before the root span began or after it \
         ended) and each service's self time (its spans' time not covered by a child span; of \
         overlapping children, the first to start keeps the overlap). The parts add up to the \
         latency."
            .to_string(),
    );
    if !table.rows.is_empty() {
        s.table = Some(table);
    }
    Some(s)
}

/// `api-gateway self 0.31, user-auth-service self 0.22, outside spans 0.05, driver 0.01`.
fn parts(b: &Breakdown) -> String {
    let mut parts: Vec<String> = b
        .services
        .iter()
        .map(|s| format!("{} self {:.3}", s.service, s.self_ms))
        .collect();
    parts.push(format!("outside spans {:.3}", b.outside_ms));
    parts.push(format!("driver {:.3}", b.driver_ms));
    parts.join(", ")
}
