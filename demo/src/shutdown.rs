//! The stop signal both services wait for. SIGTERM is what `docker stop`, tracebench's process
//! target and the tests send; SIGINT is Ctrl-C. Either one starts a graceful shutdown, after which
//! the service flushes its spans, so trace counts stay exact across restarts.

/// Completes on the first SIGINT or SIGTERM.
pub async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("cannot listen for SIGINT/SIGTERM ({err}); stop with SIGKILL");
            return std::future::pending().await;
        }
    };
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    eprintln!("{name} received: shutting down");
}
