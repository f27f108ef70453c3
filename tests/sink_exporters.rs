//! Real OpenTelemetry exporters deliver to the built-in sink, and the Tempo client reads back
//! exactly what they sent: trace count, span count, and parent/child links.
//!
//! The Rust SDK's OTLP gRPC (tonic) and OTLP/HTTP protobuf (reqwest) exporters, plus a hand-written
//! OTLP/HTTP JSON body (hex ids, as the OTLP spec writes them), plain and gzip.

use std::collections::HashMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracebench::traces::count::{CountMethod, CountRequest, count_traces};
use tracebench::traces::model::{decode_id, hex_decode};
use tracebench::traces::sink::{Sink, SinkConfig};
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

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
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
        &CountRequest {
            services: vec![service.to_string()],
            start_s: started_s,
            end_s: now_s() + 1,
            step_s: 60,
            search_limit: 1000,
            method: CountMethod::Auto,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        counts.method,
        CountMethod::Search,
        "the sink serves no TraceQL metrics"
    );
    assert_eq!(counts.services[0].total, TRACES as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_grpc_exporter_delivers_exact_traces() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let started_s = now_s();
    // Built inside the runtime: tonic's channel spawns its worker here, and the batch
    // processor's own thread then only hands requests to it.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(sink.addrs().otlp_grpc_url())
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("exp-grpc").build())
        .build();
    let expected = tokio::task::spawn_blocking(move || {
        let expected = make_traces(&provider);
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();
        expected
    })
    .await
    .unwrap();
    assert_eq!(expected.len(), TRACES);
    assert_delivered(&sink, "exp-grpc", &expected, started_s).await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_http_protobuf_exporter_delivers_exact_traces() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let started_s = now_s();
    let endpoint = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let expected = tokio::task::spawn_blocking(move || {
        // The async reqwest client needs the runtime's context: the simple processor exports
        // on this (spawn_blocking) thread, which has it.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("exp-http").build())
            .build();
        let expected = make_traces(&provider);
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();
        expected
    })
    .await
    .unwrap();
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

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::post(url).header("content-type", content_type);
    if let Some(enc) = encoding {
        req = req.header("content-encoding", enc);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn otlp_http_json_bodies_plain_and_gzip() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let url = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let now = now_s();
    let plain_id = "0af7651916cd43dd8448eb211c80319c";
    let (status, body) = post(
        &url,
        "application/json",
        None,
        json_body(plain_id, now).into_bytes(),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{}"));

    let gz_id = "00f7651916cd43dd8448eb211c80319d";
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json_body(gz_id, now).as_bytes()).unwrap();
    let (status, _) = post(
        &url,
        "application/json",
        Some("gzip"),
        enc.finish().unwrap(),
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
