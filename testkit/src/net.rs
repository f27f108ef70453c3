//! Loopback plumbing every test needs: a free port, the time, and one small HTTP/1.1 client (on
//! hyper) that sync and async tests alike can call.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// Bound on one HTTP exchange: connect, send, and read the whole answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A loopback port free at the time of the call (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// Now, in whole unix seconds.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body). It runs on a thread and runtime
/// of its own, so a sync test and one inside a tokio runtime call it the same way.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(Bytes::from(body.to_owned())))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(send(addr, request))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the HTTP client thread panicked"))?
    })
}

/// `GET path` from async code that must not block its runtime (a server in the same runtime).
pub async fn fetch(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let request = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    send(addr, request).await
}

/// Sends `request` to `addr` and reads the whole answer, bounded by [`HTTP_TIMEOUT`].
async fn send(
    addr: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> anyhow::Result<(u16, String)> {
    let answer = async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(HTTP_TIMEOUT, answer)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {addr} within {HTTP_TIMEOUT:?}"))?
}

/// `GET http://127.0.0.1:{port}{path}`: (status, body), or `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    request(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "GET",
        path,
        &[],
        "",
    )
    .ok()
}

/// Waits (bounded by `within`) until `GET /health` on the port answers 200.
pub fn wait_http(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if http_get(port, "/health").is_some_and(|(status, _)| status == 200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `POST /api/auth/register` to the demo gateway with a unique user: the status, or `None` when
/// nothing answers.
pub fn post_register(port: u16, name: &str) -> Option<u16> {
    let body =
        format!(r#"{{"username":"{name}","email":"{name}@example.test","password":"tracebench"}}"#);
    request(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "POST",
        "/api/auth/register",
        &[],
        &body,
    )
    .ok()
    .map(|(status, _)| status)
}
