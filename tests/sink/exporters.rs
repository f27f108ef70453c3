//! Real OpenTelemetry exporters deliver to the built-in sink, and the Tempo client reads back
//! exactly what they sent: trace count, span count, and parent/child links.
//!
//! The Rust SDK's OTLP gRPC (tonic) and OTLP/HTTP protobuf (reqwest) exporters, plus a hand-written
//! OTLP/HTTP JSON body (hex ids, as the OTLP spec writes them), plain and gzip.

use std::collections::HashMap;
use testkit::net::now_s;

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use testkit::sink::{gzip, send};
use tracebench::sink::{Sink, SinkConfig};
use tracebench::traces::count::{CountRequest, count_traces};
use tracebench::traces::model::{decode_id, hex_decode};
use tracebench::traces::tempo::{Search, TempoClient};

/// Trace id -> [(span id, parent span id)] as the SDK created them.
type Expected = HashMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

const TRACES: usize = 40;

/// Creates `TRACES` traces of three spans each (root -> child -> grandchild) and returns their ids.
fn make_traces(provider: &SdkTracerProvider) -> Expected {
    let tracer = provider.tracer("tracebench-test");
    let mut expected = Expected::new();
    for i in 0..TRACES {
        tracer.in_span(format!("root-{i}"), |cx| {
            let root = cx.span().span_context().clone();
            tracer.in_span("child", |cx| {
                let child = cx.span().span_context().clone();
                tracer.in_span("grandchild", |cx| {
                    let grand = cx.span().span_context().clone();
                    let id =
                        |s: &opentelemetry::trace::SpanContext| s.span_id().to_bytes().to_vec();
                    expected.insert(
                        root.trace_id().to_bytes().to_vec(),
                        vec![
                            (id(&root), vec![]),
                            (id(&child), id(&root)),
                            (id(&grand), id(&child)),
                        ],
                    );
                });
            });
        });
    }
    expected
}

/// Builds the provider and sends the traces on a `spawn_blocking` thread: it has the runtime's
/// context, which tonic's channel and the async reqwest client need (the simple processor exports
/// on the calling thread; the batch processor's thread only hands requests to tonic's worker).
async fn export_traces(
    build: impl FnOnce() -> opentelemetry_sdk::trace::TracerProviderBuilder + Send + 'static,
) -> Expected {
    tokio::task::spawn_blocking(move || {
        let provider = build().build();
        let expected = make_traces(&provider);
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();
        expected
    })
    .await
    .unwrap()
}

/// Every expected trace is found by search, under the right root service, and read back with
/// exactly its spans and links; counting gives exactly `TRACES`.
async fn assert_delivered(sink: &Sink, service: &str, expected: &Expected, started_s: u64) {
    let stats = sink.store().stats();
    assert_eq!(stats.spans, TRACES * 3, "{stats:?}");
    assert_eq!(stats.traces, TRACES);
    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    client.ready().await.unwrap();
    let found = client
        .search(&Search {
            q: format!("{{ resource.service.name = \"{service}\" }}"),
            start_s: started_s,
            end_s: now_s() + 1,
            limit: 1000,
            spss: 3,
        })
        .await
        .unwrap();
    assert_eq!(found.traces.len(), TRACES);
    for summary in &found.traces {
        assert_eq!(summary.root_service_name, service);
        assert!(summary.root_trace_name.starts_with("root-"));
        let id = hex_decode(&format!("{:0>32}", summary.trace_id)).unwrap();
        assert!(
            expected.contains_key(&id),
            "unexpected trace {}",
            summary.trace_id
        );
    }
    for (trace_id, spans) in expected {
        let trace = client
            .trace(&trace_id.as_slice().try_into().unwrap())
            .await
            .unwrap()
            .expect("trace stored");
        assert_eq!(trace.batches[0].resource.service_name(), Some(service));
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = trace
            .batches
            .iter()
            .flat_map(|b| &b.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| {
                assert_eq!(decode_id(&s.trace_id).as_ref(), Some(trace_id));
                (
                    decode_id(&s.span_id).unwrap(),
                    decode_id(&s.parent_span_id).unwrap(),
                )
            })
            .collect();
        let mut want = spans.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
    let counts = count_traces(
        &client,
        &CountRequest::roots(&[service], started_s, now_s() + 1),
    )
    .await
    .unwrap();
    assert_eq!(counts.services[0].total, TRACES as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_grpc_exporter_delivers_exact_traces() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let started_s = now_s();
    let endpoint = sink.addrs().otlp_grpc_url();
    let expected = export_traces(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("exp-grpc").build())
    })
    .await;
    assert_eq!(expected.len(), TRACES);
    assert_delivered(&sink, "exp-grpc", &expected, started_s).await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_http_protobuf_exporter_delivers_exact_traces() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let started_s = now_s();
    let endpoint = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let expected = export_traces(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("exp-http").build())
    })
    .await;
    assert_delivered(&sink, "exp-http", &expected, started_s).await;
    sink.stop().await;
}

/// An OTLP/HTTP JSON export, as the OTLP spec's example writes it (hex ids, 64-bit ints as strings).
fn json_body(trace_hex: &str, start_s: u64) -> String {
    let start_ns = start_s * 1_000_000_000;
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[
            {{"key":"service.name","value":{{"stringValue":"json-svc"}}}},
            {{"key":"deployment.environment","value":{{"stringValue":"test"}}}}]}},
          "scopeSpans":[{{"scope":{{"name":"manual"}},"spans":[
            {{"traceId":"{trace_hex}","spanId":"1111111111111111","name":"root","kind":2,
              "startTimeUnixNano":"{start_ns}","endTimeUnixNano":"{end}",
              "attributes":[{{"key":"http.response.status_code","value":{{"intValue":"200"}}}}]}},
            {{"traceId":"{trace_hex}","spanId":"2222222222222222","parentSpanId":"1111111111111111",
              "name":"child","kind":3,"startTimeUnixNano":"{start_ns}","endTimeUnixNano":"{end}"}}
          ]}}]}}]}}"#,
        end = start_ns + 5_000_000
    )
}

#[tokio::test]
async fn otlp_http_json_bodies_plain_and_gzip() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let url = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let now = now_s();
    let plain_id = "0af7651916cd43dd8448eb211c80319c";
    let (status, body) = send(
        "POST",
        &url,
        Some("application/json"),
        None,
        json_body(plain_id, now).into_bytes(),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{}"));

    let gz_id = "00f7651916cd43dd8448eb211c80319d";
    let (status, _) = send(
        "POST",
        &url,
        Some("application/json"),
        Some("gzip"),
        gzip(json_body(gz_id, now).as_bytes()),
    )
    .await;
    assert_eq!(status, 200);

    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    for id in [plain_id, gz_id] {
        let trace = client
            .trace(&hex_decode(id).unwrap().try_into().unwrap())
            .await
            .unwrap()
            .expect("stored");
        let spans = &trace.batches[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        assert_eq!(
            decode_id(&spans[1].parent_span_id),
            decode_id(&spans[0].span_id)
        );
        assert_eq!(
            spans[0].attributes[0].value.int_value,
            Some(serde_json::json!("200"))
        );
        assert_eq!(trace.batches[0].resource.attributes.len(), 2);
    }
    // Search trims the leading zeros of the second id, as Tempo does.
    let found = client
        .search(&Search {
            q: "{ resource.service.name = \"json-svc\" }".into(),
            start_s: now,
            end_s: now + 1,
            limit: 20,
            spss: 3,
        })
        .await
        .unwrap();
    let mut ids: Vec<String> = found.traces.iter().map(|t| t.trace_id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "af7651916cd43dd8448eb211c80319c",
            "f7651916cd43dd8448eb211c80319d"
        ]
    );
    sink.stop().await;
}
