//! Waiting until a restarted service can serve, with a bound, so a broken mode is an error that
//! names the service (and shows its last log lines) instead of a hang or a run of failed requests.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// How to tell that a service is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// `GET url` answers 2xx.
    Http(String),
    /// The port accepts a TCP connection.
    Tcp(SocketAddr),
    /// Ready once started (docker: once its healthcheck, if any, says healthy).
    Started,
}

/// A service that never became ready within the bound.
#[derive(Debug, thiserror::Error)]
#[error("service '{service}' did not become ready: {reason}{}", log_section(.log_tail))]
pub struct NotReady {
    pub service: String,
    pub reason: String,
    /// Its last output lines, oldest first.
    pub log_tail: Vec<String>,
}

fn log_section(lines: &[String]) -> String {
    if lines.is_empty() {
        "\n(it printed nothing)".to_string()
    } else {
        format!(
            "\nits last {} log lines:\n  {}",
            lines.len(),
            lines.join("\n  ")
        )
    }
}

/// Why a readiness check did not pass.
pub(super) enum Check {
    /// Not yet: try again until the bound.
    NotYet(String),
    /// The service died: waiting longer is pointless.
    Dead(String),
}

/// Repeats `check` every 100 ms until it passes, the service dies, or `timeout` has passed; the
/// error is the reason.
pub(super) async fn poll(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<(), Check>,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(Check::Dead(reason)) => return Err(reason),
            Err(Check::NotYet(reason)) if Instant::now() >= deadline => {
                return Err(format!(
                    "not ready after {timeout:?} (last check: {reason})"
                ));
            }
            Err(Check::NotYet(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Readiness {
    /// Polls until ready or `timeout`. `alive` is asked on each round and ends the wait early with
    /// its reason when the service has died.
    pub async fn wait(
        &self,
        timeout: Duration,
        mut alive: impl AsyncFnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
        poll(timeout, async || {
            alive().await.map_err(Check::Dead)?;
            match self {
                Readiness::Started => Ok(()),
                Readiness::Tcp(addr) => tokio::net::TcpStream::connect(addr)
                    .await
                    .map(drop)
                    .map_err(|e| format!("TCP {addr}: {e}")),
                Readiness::Http(url) => http_ok(&client, url).await,
            }
            .map_err(Check::NotYet)
        })
        .await
    }
}

async fn http_ok(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<bytes::Bytes>>,
    url: &str,
) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    let answer = tokio::time::timeout(Duration::from_secs(2), client.get(uri)).await;
    match answer {
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("GET {url}: {}", response.status())),
        Ok(Err(err)) => Err(format!("GET {url}: {err}")),
        Err(_) => Err(format!("GET {url}: no answer within 2 s")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_ready_when_listening_and_bounded_when_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ready = Readiness::Tcp(addr);
        assert_eq!(
            ready.wait(Duration::from_secs(2), async || Ok(())).await,
            Ok(())
        );
        drop(listener);
        let err = Readiness::Tcp(addr)
            .wait(Duration::from_millis(300), async || Ok(()))
            .await
            .unwrap_err();
        assert!(err.contains("not ready after"), "{err}");
    }

    #[tokio::test]
    async fn a_dead_service_ends_the_wait_with_its_reason() {
        let err = Readiness::Http("http://127.0.0.1:9/health".into())
            .wait(
                Duration::from_secs(30),
                async || Err("exited with 3".into()),
            )
            .await
            .unwrap_err();
        assert_eq!(err, "exited with 3");
    }

    #[test]
    fn not_ready_shows_the_log_tail() {
        let err = NotReady {
            service: "auth".into(),
            reason: "exited".into(),
            log_tail: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            err.to_string(),
            "service 'auth' did not become ready: exited\nits last 2 log lines:\n  a\n  b"
        );
    }
}
