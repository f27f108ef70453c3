//! A connection worker: takes due requests from the queue in order, sends each on its own
//! connection (HTTP or gRPC), and records the result with its three instants.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::grpc::GrpcClient;
use super::http::HttpClient;
use super::record::{Completion, Recorder, RequestOutcome};
use super::schedule::{Queue, Ticket};

/// One connection of either kind; `match` dispatch keeps the hot path free of trait objects.
pub enum Client {
    Http(HttpClient),
    Grpc(GrpcClient),
}

impl Client {
    async fn call(&mut self, seq: u64, run: &str) -> RequestOutcome {
        match self {
            Client::Http(c) => c.call(seq, run).await,
            Client::Grpc(c) => c.call(seq, run).await,
        }
    }

    fn reset(&mut self) {
        match self {
            Client::Http(c) => c.reset(),
            Client::Grpc(c) => c.reset(),
        }
    }
}

/// Serves tickets until the queue is closed and empty.
pub async fn work(
    mut client: Client,
    queue: Rc<Queue>,
    recorder: Rc<RefCell<Recorder>>,
    run: Rc<str>,
    timeout: Duration,
) {
    while let Some(Ticket { seq, due }) = queue.take().await {
        let sent = Instant::now();
        let outcome = match tokio::time::timeout(timeout, client.call(seq, &run)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                client.reset();
                RequestOutcome::Failed(format!(
                    "no response within {}",
                    humantime::format_duration(timeout)
                ))
            }
        };
        let done = Instant::now();
        let completion = Completion {
            due,
            sent,
            done,
            outcome,
        };
        recorder.borrow_mut().record_completion(&completion);
        // Released once recorded, so the in-flight cap also bounds unrecorded results.
        queue.done();
    }
}
