//! Bad input gets a clear rejection (HTTP 400/413/415, gRPC INVALID_ARGUMENT or
//! OUT_OF_RANGE), and the sink keeps serving afterwards.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use testkit::sink::{gzip, send};
use tracebench::sink::{Sink, SinkConfig};

const LIMIT: usize = 4096;

/// What is sent (name, content type, content encoding, body) and the status and message expected.
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

fn one_span(span_id_len: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![1; span_id_len],
                    name: "ok".into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[tokio::test]
async fn http_rejections_are_clear_and_the_sink_keeps_serving() {
    let sink = Sink::start(SinkConfig {
        max_body_bytes: LIMIT,
        ..SinkConfig::ephemeral()
    })
    .await
    .unwrap();
    let url = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let pb = Some("application/x-protobuf");
    let json = Some("application/json");
    let cases: Vec<Case> = vec![
        ("malformed protobuf", pb, None, vec![0xff, 0xff, 0xff, 0x01], 400, "malformed protobuf"),
        ("malformed JSON", json, None, b"{\"resourceSpans\": [".to_vec(), 400, "malformed OTLP JSON"),
        ("JSON of the wrong shape", json, None, b"{\"resourceSpans\": 3}".to_vec(), 400, "malformed OTLP JSON"),
        ("base64 ids in JSON", json, None,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ="}]}]}]}"#.to_vec(),
            400, "malformed OTLP JSON"),
        ("short span id", pb, None, one_span(4).encode_to_vec(), 400, "invalid span id of 4 bytes"),
        ("text/plain", Some("text/plain"), None, b"hello".to_vec(), 415, "unsupported content type"),
        ("no content type", None, None, one_span(8).encode_to_vec(), 415, "unsupported content type"),
        ("brotli", pb, Some("br"), one_span(8).encode_to_vec(), 415, "unsupported content encoding"),
        ("oversized body", pb, None, vec![0; LIMIT + 1], 413, "larger than the limit of 4096 bytes"),
        ("gzip expanding past the limit", pb, Some("gzip"), gzip(&vec![0; LIMIT * 100]), 413, "larger than the limit"),
        ("broken gzip", pb, Some("gzip"), b"\x1f\x8bnot really".to_vec(), 400, "gzip body cannot be decompressed"),
    ];
    for (what, ct, enc, body, status, message) in cases {
        let (got, text) = send("POST", &url, ct, enc, body).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(text.contains(message), "{what}: {text:?} lacks {message:?}");
    }
    let (got, _) = send("GET", &url, None, None, vec![]).await;
    assert_eq!(got, 405);
    assert_eq!(sink.store().stats().received_spans, 0);

    // Still serving: a good export is stored and the API answers.
    let (got, _) = send("POST", &url, pb, None, one_span(8).encode_to_vec()).await;
    assert_eq!(got, 200);
    let (got, text) = send(
        "GET",
        &format!("{}/ready", sink.addrs().api_url()),
        None,
        None,
        vec![],
    )
    .await;
    assert_eq!((got, text.trim()), (200, "ready"));
    assert_eq!(sink.store().stats().received_spans, 1);

    let api = sink.addrs().api_url();
    for (path, status) in [
        ("/api/traces/not-hex", 400),
        ("/api/traces/0123", 404),
        ("/api/search?q=%7B+span.x+%3D+1+%7D", 400),
        ("/api/search?start=yesterday", 400),
        ("/nope", 404),
    ] {
        let (got, text) = send("GET", &format!("{api}{path}"), None, None, vec![]).await;
        assert_eq!(got, status, "{path}: {text}");
    }
    sink.stop().await;
}

#[tokio::test]
async fn grpc_rejections_are_statuses_and_the_sink_keeps_serving() {
    let sink = Sink::start(SinkConfig {
        max_body_bytes: LIMIT,
        ..SinkConfig::ephemeral()
    })
    .await
    .unwrap();
    let mut client = TraceServiceClient::connect(sink.addrs().otlp_grpc_url())
        .await
        .unwrap();
    let status = client.export(one_span(3)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status}");
    assert!(status.message().contains("span id"), "{status}");

    let mut big = one_span(8);
    big.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(LIMIT * 2);
    let status = client.export(big).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status}");

    client.export(one_span(8)).await.unwrap();
    assert_eq!(sink.store().stats().received_spans, 1);
    sink.stop().await;
}
