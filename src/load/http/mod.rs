//! The HTTP/1.1 client: one keep-alive connection per worker, written directly on the socket.
//! The request's head is rendered once, each request is one `write` of head and body, and each
//! response is read into a reused buffer and parsed in place (httparse) with just enough of
//! HTTP/1.1 to know where it ends: `Content-Length`, chunked, no body (HEAD, 1xx, 204, 304) or
//! until the server closes. That is a third less CPU per request than going through hyper's
//! client, whose dispatch task and header maps the driver does not need (README, Measured). A
//! failed connection is dropped and made again for the next request; the failure is counted,
//! never retried silently.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod response;

use super::record::{RequestOutcome, ResponseCode};
use super::template::BodyTemplate;
use super::trace_id::DEFAULT_TRACE_HEADER;
use response::{Answer, read_response};

/// What to send over HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpEndpoint {
    /// `http://host:port/path?query` (https is not supported).
    pub url: Uri,
    pub method: Method,
    /// Sent with every request (e.g. `Content-Type`).
    pub headers: HeaderMap,
    /// `None` sends an empty body.
    pub body: Option<BodyTemplate>,
    /// Statuses counted as success; every other status is an error.
    pub expect: Vec<StatusCode>,
    /// The response header that names the request's trace (see
    /// [`TraceId::from_header`](super::TraceId::from_header)).
    pub trace_header: HeaderName,
}

impl HttpEndpoint {
    /// Statuses counted as success unless told otherwise. Not 409: every registration of a run
    /// is new (`{run}`), so a duplicate is an error.
    pub const DEFAULT_EXPECT: [StatusCode; 2] = [StatusCode::OK, StatusCode::CREATED];

    /// The endpoint with the defaults `drive` and a scenario share: the method POST with a
    /// body and GET without; the body of a POST, PUT or PATCH without one, a unique
    /// registration ([`BodyTemplate::default_register`]); `Content-Type: application/json`
    /// with a body unless a content type is given; [`Self::DEFAULT_EXPECT`].
    pub fn new(
        url: Uri,
        method: Option<Method>,
        mut headers: HeaderMap,
        body: Option<BodyTemplate>,
        expect: Option<Vec<StatusCode>>,
    ) -> HttpEndpoint {
        let method = method.unwrap_or(if body.is_some() {
            Method::POST
        } else {
            Method::GET
        });
        let body = body.or_else(|| {
            [Method::POST, Method::PUT, Method::PATCH]
                .contains(&method)
                .then(BodyTemplate::default_register)
        });
        if body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        HttpEndpoint {
            url,
            method,
            headers,
            body,
            expect: expect.unwrap_or_else(|| Self::DEFAULT_EXPECT.to_vec()),
            trace_header: HeaderName::from_static(DEFAULT_TRACE_HEADER),
        }
    }

    /// The endpoint with the trace ID read from `name` instead of `traceresponse`.
    pub fn with_trace_header(mut self, name: HeaderName) -> HttpEndpoint {
        self.trace_header = name;
        self
    }

    /// `host:port` of the URL (port 80 when absent).
    pub fn authority(&self) -> String {
        let host = self.url.host().unwrap_or_default();
        format!("{host}:{}", self.url.port_u16().unwrap_or(80))
    }
}

/// One keep-alive connection to the target, made on first use and after each failure.
pub struct HttpClient {
    target: Arc<HttpEndpoint>,
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// Request line, `Host` and the user's headers, rendered once.
    head: Vec<u8>,
    /// Whether the request carries a `Content-Length` (a body, or a method that expects one).
    sized: bool,
    /// The request being sent and the response being read, reused from request to request.
    out: Vec<u8>,
    input: BytesMut,
}

/// Longest response head read before giving up on the response.
const MAX_HEAD: usize = 64 * 1024;

impl HttpClient {
    pub fn new(target: Arc<HttpEndpoint>, addr: SocketAddr) -> HttpClient {
        let path = target.url.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("{} {path} HTTP/1.1\r\n", target.method).into_bytes();
        if !target.headers.contains_key(header::HOST) {
            head.extend_from_slice(format!("host: {}\r\n", target.authority()).as_bytes());
        }
        for (name, value) in &target.headers {
            // The length is the driver's to write: it changes with each rendered body.
            if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let sized = target.body.is_some()
            || [Method::POST, Method::PUT, Method::PATCH].contains(&target.method);
        HttpClient {
            target,
            addr,
            stream: None,
            head,
            sized,
            out: Vec::with_capacity(1024),
            input: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Sends request `seq` and reads the whole response.
    pub async fn call(&mut self, seq: u64, run: &str) -> RequestOutcome {
        match self.try_call(seq, run).await {
            Ok(Answer {
                status,
                reusable,
                trace,
            }) => {
                if !reusable {
                    self.reset();
                }
                RequestOutcome::Response {
                    code: ResponseCode::Http(status.as_u16()),
                    ok: self.target.expect.contains(&status),
                    trace,
                }
            }
            Err(kind) => {
                self.reset();
                RequestOutcome::Failed(kind)
            }
        }
    }

    /// Forgets the connection (after a timeout or a failure its state is unknown).
    pub fn reset(&mut self) {
        self.stream = None;
        self.input.clear();
    }

    async fn try_call(&mut self, seq: u64, run: &str) -> Result<Answer, String> {
        self.render(seq, run);
        // A connection the server has closed while idle (nginx does after `keepalive_timeout`)
        // has sent nothing of this request yet: replace it without counting an error.
        if self.stream.as_ref().is_some_and(|s| !still_open(s)) {
            self.reset();
        }
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(connect(self.addr).await?),
        };
        stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let head_request = self.target.method == Method::HEAD;
        read_response(
            stream,
            &mut self.input,
            head_request,
            self.target.trace_header.as_str(),
        )
        .await
        .map_err(|e| format!("response: {e}"))
    }

    fn render(&mut self, seq: u64, run: &str) {
        self.out.clear();
        self.out.extend_from_slice(&self.head);
        let body = self.target.body.as_ref().map(|t| t.render(seq, run));
        if self.sized {
            let length = body.as_ref().map_or(0, |b| b.len());
            // Written straight into the buffer: no string allocated per request.
            let _ = write!(self.out, "content-length: {length}\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            self.out.extend_from_slice(&body);
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("connect: {e}"))?;
    Ok(stream)
}

/// False when an idle connection has been closed by the server (or has sent something no
/// request asked for). Costs no system call while the socket has not become readable.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_head_is_rendered_once_with_the_length_per_body() {
        let target = HttpEndpoint {
            url: "http://127.0.0.1:8080/api/auth/register?x=1"
                .parse()
                .unwrap(),
            method: Method::POST,
            headers: [
                (header::CONTENT_TYPE, "application/json".parse().unwrap()),
                (header::CONTENT_LENGTH, "999".parse().unwrap()),
            ]
            .into_iter()
            .collect(),
            body: Some(BodyTemplate::parse("{\"n\":{seq}}").unwrap()),
            expect: vec![StatusCode::OK],
            trace_header: HeaderName::from_static(DEFAULT_TRACE_HEADER),
        };
        let mut client = HttpClient::new(Arc::new(target), "127.0.0.1:8080".parse().unwrap());
        client.render(42, "r");
        assert_eq!(
            String::from_utf8(client.out.clone()).unwrap(),
            "POST /api/auth/register?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\
             content-type: application/json\r\ncontent-length: 8\r\n\r\n{\"n\":42}"
        );
    }
}
