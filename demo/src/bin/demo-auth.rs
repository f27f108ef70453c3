//! The demo's gRPC user service. See `demo::auth`.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;

/// demo-auth: gRPC `user.UserService/Register` with an in-memory user store, traced with
/// OpenTelemetry as configured by the standard OTEL_* environment variables.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Most users kept in memory; the oldest are evicted beyond it, so memory stays bounded.
    #[arg(long, env = "AUTH_MAX_USERS", default_value_t = demo::users::DEFAULT_MAX_USERS)]
    max_users: usize,
    /// Answer every N-th Register call INVALID_ARGUMENT (the gateway answers 400; 0: never).
    #[arg(long, env = "DEMO_REJECT_EVERY", default_value_t = 0)]
    reject_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = demo::telemetry::Telemetry::init("user-auth-service")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("demo-auth listening on {}", listener.local_addr()?);
    let served = demo::auth::serve(
        listener,
        args.max_users,
        args.reject_every,
        demo::shutdown::signal(),
    )
    .await;
    telemetry.shutdown().await;
    served
}
