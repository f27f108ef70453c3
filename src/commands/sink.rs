//! `tracebench sink`: the built-in sink in the foreground until Ctrl-C, logging what it dropped.

use std::time::Duration;

use crate::cli::SinkArgs;
use crate::exit::Exit;
use crate::traces::sink::{Sink, SinkConfig};
use crate::traces::store::StoreStats;

pub async fn run(args: SinkArgs) -> anyhow::Result<Exit> {
    let sink = Sink::start(SinkConfig {
        otlp_grpc: args.otlp_grpc,
        otlp_http: args.otlp_http,
        api: args.api,
        max_spans: args.max_spans,
        max_bytes: args.max_bytes,
        max_body_bytes: args.max_body_bytes,
    })
    .await?;
    let addrs = sink.addrs();
    eprintln!(
        "sink: OTLP gRPC on {}, OTLP/HTTP on {} (POST /v1/traces), query API on {}; \
         keeping at most {} spans and {:.0} MiB of them",
        addrs.otlp_grpc,
        addrs.otlp_http,
        addrs.api,
        args.max_spans,
        args.max_bytes as f64 / (1024.0 * 1024.0)
    );
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    let mut logged = StoreStats::default();
    // One future for the whole loop, so a Ctrl-C or SIGTERM arriving between ticks is not missed.
    let stop = crate::control::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {
                let stats = sink.store().stats();
                if stats.received_spans != logged.received_spans {
                    log_stats("sink", &stats);
                    logged = stats;
                }
            }
        }
    }
    log_stats("sink: stopping", &sink.stop().await);
    Ok(Exit::Pass)
}

fn log_stats(prefix: &str, stats: &StoreStats) {
    eprintln!(
        "{prefix}: {} spans received, {} spans in {} traces stored, \
         {} spans in {} traces evicted (limits {} spans, {:.0} of {:.0} MiB used)",
        stats.received_spans,
        stats.spans,
        stats.traces,
        stats.evicted_spans,
        stats.evicted_traces,
        stats.max_spans,
        stats.bytes as f64 / (1024.0 * 1024.0),
        stats.max_bytes as f64 / (1024.0 * 1024.0)
    );
}
