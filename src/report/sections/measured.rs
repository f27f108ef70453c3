//! The sections of what was measured: latency, resources, the driver's own cost, trace volume
//! and the probes.

use super::*;

pub(super) fn latency(summary: &Summary) -> Section {
    let mut s = Section::new(Topic::Latency, "Latency and throughput per mode and rate");
    s.paragraphs.push(
        "Corrected latency (from each request's due time, so a stalled service cannot hide \
         queued requests; failed and timed-out requests count with the time they took), in ms: \
         the mean over rounds of each cell's figure, with 95% intervals. Errors and drops are \
         counted against requests due (the error rate also counts unfinished requests)."
            .to_string(),
    );
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "mode",
            "rate (req/s)",
            "rounds",
            "cells",
            "throughput (req/s)",
            "p50 (ms)",
            "p90 (ms)",
            "p99 (ms)",
            "p99.9 (ms)",
            "max (ms)",
            "ok",
            "errors",
            "dropped",
            "error rate",
        ]),
        rows: summary
            .analysis
            .groups
            .iter()
            .map(|g| {
                let l = &g.latency_ms;
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    g.rounds.to_string(),
                    g.cells.to_string(),
                    fmt_level(&g.throughput_rps, 1),
                    fmt_level(&l.p50, 3),
                    fmt_level(&l.p90, 3),
                    fmt_level(&l.p99, 3),
                    fmt_level(&l.p999, 3),
                    format!("{:.3}", l.max),
                    g.ok.to_string(),
                    g.errors.to_string(),
                    g.dropped.to_string(),
                    format!("{:.2}% of {} due", g.error_rate.value * 100.0, g.due),
                ]
            })
            .collect(),
    });
    s
}

/// The driver's own cost beside the services' figures: how much of the machine tracebench took
/// and how late it sent.
pub(super) fn driver(summary: &Summary) -> Section {
    let mut s = Section::new(Topic::Driver, "The driver's own cost");
    s.paragraphs.push(
        "tracebench's CPU over the measured windows (the driver, its samplers and the built-in \
         sink when it runs in-process), % of one core, mean of the cells, beside the services' \
         total; the driver's lag (actual send minus due time) of its worst cell. A lag p99 above \
         a tenth of the smallest latency budget, or tracebench above the services' CPU, is \
         warned about."
            .into(),
    );
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "mode",
            "rate (req/s)",
            "tracebench CPU (% of a core)",
            "services CPU (% of a core)",
            "driver lag p99 (ms)",
            "driver lag max (ms)",
            "dropped",
        ]),
        rows: summary
            .analysis
            .groups
            .iter()
            .map(|g| {
                let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    pct(g.driver.tracebench_cpu_pct),
                    pct(g.services_cpu_pct()),
                    format!("{:.3}", g.driver.lag_p99_ms),
                    format!("{:.3}", g.driver.lag_max_ms),
                    g.dropped.to_string(),
                ]
            })
            .collect(),
    });
    s
}

pub(super) fn resources(summary: &Summary) -> Option<Section> {
    let rows: Vec<Vec<String>> = summary
        .analysis
        .groups
        .iter()
        .flat_map(|g| {
            g.services.iter().map(move |svc| {
                let opt = |e: Option<Estimate>| e.map_or("-".to_string(), |e| fmt_level(&e, 2));
                vec![
                    g.mode.clone(),
                    fmt_rate(g.rate),
                    svc.service.clone(),
                    opt(svc.cpu_pct),
                    svc.cpu_seconds_per_1k_requests
                        .map_or("-".to_string(), |c| format!("{c:.4}")),
                    opt(svc.memory_mean_mb),
                    svc.memory_max_mb
                        .map_or("-".to_string(), |m| format!("{m:.1}")),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut s = Section::new(Topic::Resources, "CPU and memory per service");
    let sources = unique(summary.results.cells.iter().flat_map(|c| {
        c.resources.iter().map(|r| {
            let source = format!("{:?}", r.source).to_lowercase();
            format!("{}: {source}, CPU from {}", r.service, r.cpu_counter)
        })
    }));
    s.paragraphs.push(format!(
        "CPU in % of one core over each measured window, from the service's CPU counter read at \
         the window's start and end; memory in MB (10^6 bytes), 95% intervals. Sources: {} \
         (docker = usage minus inactive file cache, as docker stats; proc = VmRSS of the \
         service's process and those under it; process CPU clocks and cgroup counters are exact \
         to the microsecond, docker stats is the fallback when the container's cgroup cannot be \
         read, 1 s samples are results written before the edges were read).",
        sources.join(", ")
    ));
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "mode",
            "rate (req/s)",
            "service",
            "CPU (% of a core)",
            "CPU s per 1k requests",
            "memory mean (MB)",
            "memory max (MB)",
        ]),
        rows,
    });
    Some(s)
}

pub(super) fn traces(summary: &Summary) -> Option<Section> {
    let traces = summary.results.traces.as_ref()?;
    let mut s = Section::new(Topic::Traces, "Trace volume");
    s.paragraphs.push(format!(
        "Counted in {} by {}, cell by cell as the run went. Expected = requests answered (any \
         status: each roots a trace) x the mode's sampling ratio; the interval is the 99% \
         binomial interval of what such a sampler keeps, its upper end raised by requests that \
         got no answer. Incomplete: counted traces missing a span of a service in \
         traces.services.",
        traces.store, traces.method
    ));
    if let Some(dropped) = traces.store_dropped_spans {
        s.paragraphs
            .push(format!("Spans dropped by the store itself: {dropped}."));
    }
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "mode",
            "rate (req/s)",
            "service",
            "observed",
            "expected [99% interval]",
            "observed per min",
            "expected per min",
            "incomplete",
        ]),
        rows: summary
            .analysis
            .groups
            .iter()
            .flat_map(|g| {
                g.traces.iter().map(move |t| {
                    vec![
                        g.mode.clone(),
                        fmt_rate(g.rate),
                        t.service.clone(),
                        t.observed.to_string(),
                        fmt_level(&t.expected, 0),
                        format!("{:.1}", t.observed_per_minute),
                        format!("{:.1}", t.expected_per_minute),
                        t.incomplete.map_or("-".to_string(), |n| n.to_string()),
                    ]
                })
            })
            .collect(),
    });
    Some(s)
}

pub(super) fn probes(summary: &Summary) -> Option<Section> {
    let p = summary.results.probes.as_ref()?;
    let mut s = Section::new(Topic::Probes, "Connectivity probes");
    s.paragraphs.push(
        "Requests carrying known, sampled trace IDs, each looked up in the trace store: found \
         means every expected service's spans came back, linked parent to child."
            .to_string(),
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    s.table = Some(Table {
        links: Vec::new(),
        header: strings(&[
            "sent",
            "found",
            "missing",
            "broken",
            "ingestion delay p50 (ms)",
            "ingestion delay max (ms)",
        ]),
        rows: vec![vec![
            p.sent.to_string(),
            p.found.to_string(),
            p.missing.to_string(),
            p.broken.to_string(),
            ms(p.ingestion_delay_p50_ms),
            ms(p.ingestion_delay_max_ms),
        ]],
    });
    s.items = p.problems.clone();
    Some(s)
}
