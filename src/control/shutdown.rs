//! Ctrl-C and SIGTERM, the one way a run (and any work on a target) reacts to them: the first
//! signal cancels a token that the work checks between its steps, so a Docker call or a spawn is
//! never cut in the middle, and the target is then restored ([`super::Target::guarded`]).

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// Watches for Ctrl-C and SIGTERM from [`Shutdown::watch`] until [`Shutdown::stop`].
pub struct Shutdown {
    cancel: CancellationToken,
    signal: Arc<OnceLock<&'static str>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Shutdown {
    pub fn watch() -> Shutdown {
        let cancel = CancellationToken::new();
        let signal: Arc<OnceLock<&'static str>> = Arc::default();
        let watcher = {
            let (cancel, signal) = (cancel.clone(), signal.clone());
            tokio::spawn(async move {
                let name = shutdown_signal().await;
                let _ = signal.set(name);
                cancel.cancel();
            })
        };
        Shutdown {
            cancel,
            signal,
            watcher,
        }
    }

    /// Cancelled by the first signal.
    pub fn token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The signal that came so far, if one did.
    pub fn signal(&self) -> Option<&'static str> {
        self.signal.get().copied()
    }

    /// Stops watching; the signal that came, if one did.
    pub fn stop(self) -> Option<&'static str> {
        self.watcher.abort();
        self.signal()
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, naming which.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No signal handling possible: never resolve rather than report a false interrupt.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
