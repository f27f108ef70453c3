//! Reading one HTTP/1.1 response off a kept-alive connection: the status, the trace ID a
//! trace header names, and where the response ends (Content-Length, chunked, or the
//! connection's close), skipping the body.

use bytes::{Buf, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::MAX_HEAD;
use crate::load::trace_id::TraceId;

/// What a response said.
#[derive(Debug, PartialEq)]
pub(super) struct Answer {
    pub status: StatusCode,
    /// The connection can carry another request.
    pub reusable: bool,
    /// The trace the `trace_header` header named.
    pub trace: Option<TraceId>,
}

/// Reads one response to a request (`head_request`: a HEAD), reading a trace ID from the header
/// named `trace_header` (lower case).
pub(super) async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
    input: &mut BytesMut,
    head_request: bool,
    trace_header: &str,
) -> Result<Answer, String> {
    loop {
        let head = loop {
            if let Some(head) = parse_head(input, trace_header)? {
                break head;
            }
            if input.len() > MAX_HEAD {
                return Err(format!("a response head longer than {MAX_HEAD} bytes"));
            }
            fill(stream, input).await?;
        };
        input.advance(head.length);
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            continue; // 100 Continue and the like precede the real response
        }
        let body = if head_request
            || head.status.is_informational()
            || head.status == StatusCode::NO_CONTENT
            || head.status == StatusCode::NOT_MODIFIED
        {
            Body::Empty
        } else {
            head.body
        };
        let reusable = match body {
            Body::Empty => head.keep_alive,
            Body::Length(n) => {
                skip(stream, input, n).await?;
                head.keep_alive
            }
            Body::Chunked => {
                skip_chunked(stream, input).await?;
                head.keep_alive
            }
            // A body that ends when the connection does leaves nothing to reuse.
            Body::UntilClose => {
                while stream
                    .read_buf(input)
                    .await
                    .map_err(|e| format!("body: {e}"))?
                    > 0
                {
                    input.clear();
                }
                false
            }
        };
        if !input.is_empty() {
            return Err("bytes after the end of the response".into());
        }
        return Ok(Answer {
            status: head.status,
            reusable,
            trace: head.trace,
        });
    }
}

/// Reads more of the response; the end of the stream here is an error.
async fn fill(stream: &mut (impl AsyncRead + Unpin), input: &mut BytesMut) -> Result<(), String> {
    match stream.read_buf(input).await {
        Ok(0) => Err("the connection closed before the response ended".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// How the response's body is delimited.
#[derive(Debug, PartialEq)]
enum Body {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: StatusCode,
    /// Bytes of the head, blank line included.
    length: usize,
    body: Body,
    /// The server means to keep the connection (HTTP/1.1 without `Connection: close`, or 1.0
    /// with `keep-alive`), if the body lets it.
    keep_alive: bool,
    trace: Option<TraceId>,
}

/// The response head at the start of `input`, once it is all there.
fn parse_head(input: &[u8], trace_header: &str) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed response head: {e}")),
    };
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| format!("status {code}"))?;
    let mut keep_alive = response.version == Some(1);
    let mut body = Body::UntilClose;
    let mut trace = None;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or_default().trim();
        if h.name.eq_ignore_ascii_case("content-length") && body == Body::UntilClose {
            let n = value
                .parse()
                .map_err(|_| format!("a Content-Length of `{value}`"))?;
            body = Body::Length(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked, when it is the last coding, decides; it overrides a length.
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            body = if last.eq_ignore_ascii_case("chunked") {
                Body::Chunked
            } else {
                Body::UntilClose
            };
        } else if h.name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case(trace_header) {
            trace = TraceId::from_header(h.value);
        }
    }
    Ok(Some(Head {
        status,
        length,
        body,
        keep_alive,
        trace,
    }))
}

/// Reads and forgets `n` bytes of body.
async fn skip(
    stream: &mut (impl AsyncRead + Unpin),
    input: &mut BytesMut,
    mut n: u64,
) -> Result<(), String> {
    loop {
        let here = n.min(input.len() as u64);
        input.advance(here as usize);
        n -= here;
        if n == 0 {
            return Ok(());
        }
        fill(stream, input).await?;
    }
}

/// Reads and forgets a chunked body, trailers included.
async fn skip_chunked(
    stream: &mut (impl AsyncRead + Unpin),
    input: &mut BytesMut,
) -> Result<(), String> {
    loop {
        // The chunk-size line: hex digits, optional extensions after `;`.
        let line = loop {
            if let Some(end) = input.windows(2).position(|w| w == b"\r\n") {
                break end;
            }
            if input.len() > MAX_HEAD {
                return Err("a chunk-size line too long".into());
            }
            fill(stream, input).await?;
        };
        let text = std::str::from_utf8(&input[..line]).unwrap_or_default();
        let digits = text.split(';').next().unwrap_or_default().trim();
        let size =
            u64::from_str_radix(digits, 16).map_err(|_| format!("a chunk size of `{digits}`"))?;
        input.advance(line + 2);
        if size == 0 {
            return skip_trailers(stream, input).await;
        }
        skip(stream, input, size + 2).await?; // the data and its CRLF
    }
}

/// Reads and forgets the trailer lines after the last chunk, up to the blank line.
async fn skip_trailers(
    stream: &mut (impl AsyncRead + Unpin),
    input: &mut BytesMut,
) -> Result<(), String> {
    loop {
        match input.windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                input.advance(2);
                return Ok(());
            }
            Some(end) => input.advance(end + 2),
            None if input.len() > MAX_HEAD => return Err("trailers too long".into()),
            None => fill(stream, input).await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one response from `pieces`, each delivered by one read as a socket might; also
    /// returns how many bytes were left unread.
    async fn read(
        pieces: Vec<Vec<u8>>,
        head_request: bool,
    ) -> (Result<(StatusCode, bool), String>, usize) {
        let mut stream = Pieces(pieces.into());
        let mut input = BytesMut::new();
        let result = read_response(&mut stream, &mut input, head_request, "traceresponse").await;
        let result = result.map(|a| (a.status, a.reusable));
        (result, stream.0.iter().map(Vec::len).sum())
    }

    fn split(bytes: &[u8], piece: usize) -> Vec<Vec<u8>> {
        bytes.chunks(piece).map(<[u8]>::to_vec).collect()
    }

    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(piece) = self.0.pop_front() {
                let n = piece.len().min(buf.remaining());
                buf.put_slice(&piece[..n]);
                if n < piece.len() {
                    self.0.push_front(piece[n..].to_vec());
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn each_framing_ends_where_the_response_ends_in_any_pieces() {
        let cases: [(&[u8], u16, bool); 7] = [
            (b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello", 201, true),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-t: 1\r\n\r\n",
                200,
                true,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", 204, true),
            (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, true),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\ncontent-length: 2\r\n\r\nno",
                409,
                true,
            ),
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false),
        ];
        for (bytes, status, reusable) in cases {
            let text = String::from_utf8_lossy(bytes);
            let expected = (StatusCode::from_u16(status).unwrap(), reusable);
            for piece in [1, 3, bytes.len()] {
                // The next response, in a read of its own, must be left unread: the reader
                // stopped exactly where this one ended.
                let mut pieces = split(bytes, piece);
                pieces.push(NEXT.to_vec());
                let (result, left) = read(pieces, false).await;
                assert_eq!(result, Ok(expected), "{text} in pieces of {piece}");
                assert_eq!(left, NEXT.len(), "{text} in pieces of {piece}");
            }
            // Bytes beyond the response in the same read are refused, never taken as its body.
            let (result, _) = read(vec![[bytes, NEXT].concat()], false).await;
            assert!(result.unwrap_err().contains("after the end"), "{text}");
        }
    }

    #[tokio::test]
    async fn the_trace_header_names_the_trace_in_any_case() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let bytes = format!(
            "HTTP/1.1 200 OK\r\nTraceResponse: 00-{id}-00f067aa0ba902b7-01\r\nX-Trace-Id: \
             0af7651916cd43dd8448eb211c80319c\r\ncontent-length: 0\r\n\r\n"
        );
        for (header, expected) in [
            ("traceresponse", Some(id)),
            ("x-trace-id", Some("0af7651916cd43dd8448eb211c80319c")),
            ("traceparent", None),
        ] {
            let mut stream = Pieces(split(bytes.as_bytes(), 5).into());
            let answer = read_response(&mut stream, &mut BytesMut::new(), false, header)
                .await
                .unwrap();
            assert_eq!(answer.trace.map(|t| t.to_string()).as_deref(), expected);
        }
    }

    #[tokio::test]
    async fn a_body_without_length_lasts_until_the_server_closes() {
        let (result, left) = read(split(b"HTTP/1.1 200 OK\r\n\r\nall of this", 4), false).await;
        assert_eq!(result.unwrap(), (StatusCode::OK, false));
        assert_eq!(left, 0);
        // The answer to HEAD has no body whatever its length says.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
        let (result, _) = read(vec![head], true).await;
        assert_eq!(result.unwrap(), (StatusCode::OK, true));
    }

    #[tokio::test]
    async fn truncated_or_malformed_responses_are_errors() {
        for (bytes, expected) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
                "closed before",
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Le", "closed before"),
            (b"", "closed before"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
                "Content-Length of `ten`",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "chunk size of `zz`",
            ),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "malformed"),
        ] {
            let (result, _) = read(split(bytes, 7), false).await;
            let err = result.unwrap_err();
            assert!(
                err.contains(expected),
                "{}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
