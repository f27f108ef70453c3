//! The HTTP/1.1 client: one keep-alive connection per worker, made with hyper's connection API
//! so the driver controls exactly how many connections exist. A failed connection is dropped and
//! made again for the next request; the failure is counted, never retried silently.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::record::{Outcome, ResponseCode};
use super::template::BodyTemplate;

/// What to send over HTTP.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// `http://host:port/path?query` (https is not supported).
    pub url: Uri,
    pub method: Method,
    /// Sent with every request (e.g. `Content-Type`).
    pub headers: HeaderMap,
    /// `None` sends an empty body.
    pub body: Option<BodyTemplate>,
    /// Statuses counted as success; every other status is an error.
    pub expect: Vec<StatusCode>,
}

impl HttpTarget {
    /// `host:port` of the URL (port 80 when absent).
    pub fn authority(&self) -> String {
        let host = self.url.host().unwrap_or_default();
        format!("{host}:{}", self.url.port_u16().unwrap_or(80))
    }
}

/// One keep-alive connection to the target, made on first use and after each failure.
pub struct HttpClient {
    target: Arc<HttpTarget>,
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The request line's target (path and query), prepared once.
    path: Uri,
    /// `Host` plus the user's headers, prepared once.
    headers: HeaderMap,
}

impl HttpClient {
    pub fn new(target: Arc<HttpTarget>, addr: SocketAddr) -> HttpClient {
        let path = target
            .url
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()));
        let mut headers = HeaderMap::new();
        if let Ok(host) = HeaderValue::from_str(&target.authority()) {
            headers.insert(header::HOST, host);
        }
        headers.extend(target.headers.clone());
        HttpClient {
            target,
            addr,
            sender: None,
            path,
            headers,
        }
    }

    /// Sends request `seq` and reads the whole response.
    pub async fn call(&mut self, seq: u64, run: &str) -> Outcome {
        match self.try_call(seq, run).await {
            Ok(status) => Outcome::Response {
                code: ResponseCode::Http(status.as_u16()),
                ok: self.target.expect.contains(&status),
            },
            Err(kind) => {
                self.sender = None;
                Outcome::Failed(kind)
            }
        }
    }

    /// Forgets the connection (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }

    async fn try_call(&mut self, seq: u64, run: &str) -> Result<StatusCode, String> {
        let request = self.request(seq, run);
        // A connection the server has closed (nginx does after `keepalive_requests`) has sent
        // nothing of this request yet: replace it without counting an error.
        let reusable = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match reusable {
            Some(sender) => sender,
            None => {
                let mut sender = connect(self.addr).await?;
                sender.ready().await.map_err(|e| chain("connection", &e))?;
                sender
            }
        };
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| chain("request", &e))?;
        let status = response.status();
        let closing = response
            .headers()
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| chain("response body", &e))?;
        if !closing {
            self.sender = Some(sender);
        }
        Ok(status)
    }

    fn request(&self, seq: u64, run: &str) -> Request<Full<Bytes>> {
        let body = self
            .target
            .body
            .as_ref()
            .map_or_else(Bytes::new, |t| t.render(seq, run));
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.target.method.clone();
        *request.uri_mut() = self.path.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| chain("connect", &e))?;
    stream.set_nodelay(true).map_err(|e| chain("connect", &e))?;
    let (sender, connection) = handshake(TokioIo::new(stream))
        .await
        .map_err(|e| chain("handshake", &e))?;
    // The connection task ends with the connection; its error shows on the next request.
    tokio::spawn(connection);
    Ok(sender)
}

/// `what: error: cause: cause`, the error kind counted in the summary.
fn chain(what: &str, err: &dyn std::error::Error) -> String {
    let mut text = format!("{what}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
