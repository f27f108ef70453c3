//! Decoding OTLP/HTTP trace export bodies (protobuf or JSON, optionally gzip), with every way a
//! body can be wrong mapped to one error the receiver turns into 400, 413 or 415.
//!
//! OTLP/HTTP JSON writes trace and span ids as hex (unlike proto3 JSON's base64); the
//! `with-serde` derives of opentelemetry-proto already read them as hex, so JSON decoding is theirs.
//! Ids of the wrong length are rejected here so the store can keep fixed-size ids.

use std::borrow::Cow;
use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// Which encoding a body claims, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported content type {0:?}: expected application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}: expected gzip or none")]
    UnsupportedContentEncoding(String),
    #[error("body larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("gzip body cannot be decompressed: {0}")]
    Gzip(std::io::Error),
    #[error("malformed protobuf ExportTraceServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("malformed OTLP JSON ExportTraceServiceRequest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid {what} of {len} bytes: expected {expected}")]
    BadId {
        what: &'static str,
        len: usize,
        expected: usize,
    },
}

impl Encoding {
    /// Reads a `Content-Type` header value (parameters such as `charset` are ignored).
    pub fn from_content_type(value: &str) -> Result<Encoding, DecodeError> {
        let mime = value.split(';').next().unwrap_or("").trim();
        match mime.to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            _ => Err(DecodeError::UnsupportedContentType(value.to_string())),
        }
    }
}

/// Undoes `Content-Encoding` (none, `identity` or `gzip`), never producing more than `limit` bytes.
pub fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    if body.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    match content_encoding.map(|v| v.trim().to_ascii_lowercase()) {
        // An uncompressed body is decoded where it lies: no copy on the ingest path.
        None => Ok(Cow::Borrowed(body)),
        Some(enc) if enc.is_empty() || enc == "identity" => Ok(Cow::Borrowed(body)),
        Some(enc) if enc == "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(DecodeError::Gzip)?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(Cow::Owned(out))
        }
        Some(enc) => Err(DecodeError::UnsupportedContentEncoding(enc)),
    }
}

/// Decodes an uncompressed body and checks its ids.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)?,
        Encoding::Json => serde_json::from_slice(body)?,
    };
    check_ids(&request)?;
    Ok(request)
}

/// Every span needs a 16-byte trace id and an 8-byte span id; a parent id is empty or 8 bytes.
pub fn check_ids(request: &ExportTraceServiceRequest) -> Result<(), DecodeError> {
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans);
    for span in spans {
        let checks = [
            ("trace id", span.trace_id.len(), 16, false),
            ("span id", span.span_id.len(), 8, false),
            ("parent span id", span.parent_span_id.len(), 8, true),
        ];
        for (what, len, expected, may_be_empty) in checks {
            if len != expected && !(may_be_empty && len == 0) {
                return Err(DecodeError::BadId {
                    what,
                    len,
                    expected,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeSpans":[{"scope":{"name":"t"},"spans":[{
        "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
        "parentSpanId":"","name":"op","kind":2,
        "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"}]}]}]}"#;

    #[test]
    fn otlp_json_ids_are_hex() {
        let req = decode(JSON.as_bytes(), Encoding::Json).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id[0], 0x5b);
        assert_eq!(span.span_id.len(), 8);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    }

    #[test]
    fn wrong_length_ids_are_rejected() {
        let bad = JSON.replace("eee19b7ec3c1b174", "eee19b7e");
        let err = decode(bad.as_bytes(), Encoding::Json).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::BadId {
                    what: "span id",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn gzip_is_undone_and_bounded() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decompress(&gz, Some("gzip"), 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            decompress(&gz, Some("gzip"), 9_999),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            decompress(b"not gzip", Some("gzip"), 100),
            Err(DecodeError::Gzip(_))
        ));
        assert!(matches!(
            decompress(b"x", Some("br"), 100),
            Err(DecodeError::UnsupportedContentEncoding(_))
        ));
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8").unwrap(),
            Encoding::Json
        );
        assert!(Encoding::from_content_type("text/plain").is_err());
    }
}
