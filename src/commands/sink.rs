//! `tracebench sink`: the built-in sink in the foreground until Ctrl-C, logging what it dropped.

use std::time::Duration;

use crate::cli::SinkArgs;
use crate::exit::Exit;
use crate::sink::store::StoreStats;
use crate::sink::{Sink, SinkConfig};

pub async fn run(args: SinkArgs) -> anyhow::Result<Exit> {
    map_large_allocations();
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
         keeping at most {} spans and {:.0} MiB of data (spans, and exports being decoded)",
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
         {} spans in {} traces evicted (limits {} spans, {:.0} of {:.0} MiB used, \
         {:.0} MiB of them kept for decoding)",
        stats.received_spans,
        stats.spans,
        stats.traces,
        stats.evicted_spans,
        stats.evicted_traces,
        stats.max_spans,
        stats.bytes as f64 / (1024.0 * 1024.0),
        stats.max_bytes as f64 / (1024.0 * 1024.0),
        stats.working_bytes as f64 / (1024.0 * 1024.0)
    );
}

/// Allocations of 128 KiB and more get their own mappings, returned to the system when freed.
/// glibc otherwise raises that threshold to the largest block freed (up to 32 MiB), so export
/// bodies and the store's blocks land in its arenas and stay resident there: fed 10 times its
/// bound, the sink then held 38 MiB of RSS beyond idle for a 24 MiB bound, and 22 MiB with this
/// (README, Measured). Only the standalone sink does this: it is the whole process.
fn map_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's tunable; called before the sink allocates much.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
