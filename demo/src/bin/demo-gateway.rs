//! The demo's HTTP gateway. See `demo::gateway`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

/// demo-gateway: HTTP `POST /api/auth/register` in front of demo-auth's gRPC service, traced
/// with OpenTelemetry as configured by the standard OTEL_* environment variables.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// demo-auth's gRPC URL.
    #[arg(
        long = "auth",
        env = "AUTH_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    auth_url: String,
    /// Extra delay added to every register request, in milliseconds (injects a known latency
    /// regression).
    #[arg(long, env = "DEMO_EXTRA_DELAY_MS", default_value_t = 0)]
    delay_ms: u64,
    /// Busy-wait this many microseconds per register request on the monotonic clock (injects a
    /// known latency and CPU cost: 100 at 200 req/s is +0.1 ms and +2% of a core).
    #[arg(long, env = "DEMO_SPIN_US", default_value_t = 0)]
    spin_us: u64,
    /// Answer every N-th register request with 500 (0: never; injects a known error rate).
    #[arg(long, env = "DEMO_FAIL_EVERY", default_value_t = 0)]
    fail_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = demo::telemetry::Telemetry::init("api-gateway")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "demo-gateway listening on {}, auth at {}, extra delay {} ms, spin {} us",
        listener.local_addr()?,
        args.auth_url,
        args.delay_ms,
        args.spin_us
    );
    let config = demo::gateway::Config {
        auth_url: args.auth_url,
        extra_delay: Duration::from_millis(args.delay_ms),
        spin: Duration::from_micros(args.spin_us),
        fail_every: args.fail_every,
    };
    let served = demo::gateway::serve(listener, config, demo::shutdown::signal()).await;
    telemetry.shutdown().await;
    served
}
