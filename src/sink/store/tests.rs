//! The span store's tests, and the request builder other modules' tests share.
use super::*;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// A request with one span per `(trace byte, span byte, parent byte, start second)`.
pub(crate) fn request(service: &str, spans: &[(u8, u8, u8, u64)]) -> ExportTraceServiceRequest {
    let spans = spans
        .iter()
        .map(|&(t, s, p, start)| Span {
            trace_id: vec![t; 16],
            span_id: vec![s; 8],
            parent_span_id: if p == 0 { vec![] } else { vec![p; 8] },
            name: format!("op{s}"),
            kind: 2,
            start_time_unix_nano: start * 1_000_000_000,
            end_time_unix_nano: start * 1_000_000_000 + 2_000_000,
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![PbKeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..PbKeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[test]
fn evicts_oldest_traces_and_counts_them() {
    let store = SpanStore::new(4, usize::MAX);
    store.ingest(request("a", &[(1, 1, 0, 10), (1, 2, 1, 10)]));
    store.ingest(request("a", &[(2, 3, 0, 11), (2, 4, 3, 11)]));
    store.ingest(request("a", &[(3, 5, 0, 12)]));
    let stats = store.stats();
    assert_eq!((stats.spans, stats.traces), (3, 2));
    assert_eq!((stats.evicted_spans, stats.evicted_traces), (2, 1));
    assert_eq!(stats.received_spans, 5);
    assert!(store.trace(&[1; 16]).is_none());
    assert!(store.trace(&[3; 16]).is_some());
}

#[test]
fn fat_spans_are_bounded_in_bytes_and_forgetting_gives_the_bytes_back() {
    const BOUND: usize = 64 * 1024;
    let store = SpanStore::new(usize::MAX, BOUND);
    // 200 traces of one span with a 1 KiB attribute: 10 times more than the bound holds.
    for t in 1..=200u8 {
        let mut req = request("gw", &[(t, 1, 0, u64::from(t))]);
        req.resource_spans[0].scope_spans[0].spans[0].attributes = vec![PbKeyValue {
            key: "blob".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("x".repeat(1024))),
            }),
            ..PbKeyValue::default()
        }];
        store.ingest(req);
        let stats = store.stats();
        // The spans and the room kept for decoding the largest export: within the bound.
        assert!(stats.working_bytes > 2 * 1024, "{stats:?}");
        assert!(stats.bytes + stats.working_bytes <= BOUND, "{stats:?}");
    }
    let stats = store.stats();
    assert!(stats.evicted_traces > 100 && stats.traces > 10, "{stats:?}");
    assert_eq!(stats.traces as u64 + stats.evicted_traces, 200);
    // The newest are kept, and the estimate counts at least the attribute bytes.
    assert!(store.trace(&[200; 16]).is_some() && store.trace(&[1; 16]).is_none());
    assert!(stats.bytes >= stats.traces * 1024, "{stats:?}");
    // Forgetting gives back every span's bytes; the tables keep their allocated size.
    store.forget_before(u64::MAX);
    let empty = store.stats();
    assert_eq!(empty.spans, 0);
    assert!(
        empty.bytes > 0 && empty.bytes < stats.bytes / 4,
        "{empty:?}"
    );
}

#[test]
fn search_filters_by_service_and_time_newest_first() {
    let store = SpanStore::new(100, usize::MAX);
    store.ingest(request(
        "gw",
        &[(0x11, 1, 0, 100), (0x22, 2, 0, 200), (0x33, 3, 0, 300)],
    ));
    store.ingest(request("auth", &[(0x11, 9, 1, 100)]));
    let q = |service: Option<&str>, start_s, end_s| SearchQuery {
        service: service.map(String::from),
        start_s,
        end_s,
        ..SearchQuery::default()
    };
    let ids = |r: model::SearchResponse| -> Vec<String> {
        r.traces.into_iter().map(|t| t.trace_id).collect()
    };
    assert_eq!(
        ids(store.search(&q(Some("gw"), None, None))),
        ["3".repeat(32), "2".repeat(32), "1".repeat(32)]
    );
    assert_eq!(
        ids(store.search(&q(Some("auth"), None, None))),
        ["1".repeat(32)]
    );
    assert_eq!(
        ids(store.search(&q(None, Some(150), Some(250)))),
        ["2".repeat(32)]
    );
    // Both ends inclusive, as Tempo's overlap filter: a trace starting at `end` is in.
    assert_eq!(
        ids(store.search(&q(None, Some(200), Some(300)))),
        ["3".repeat(32), "2".repeat(32)]
    );
    let hit = &store.search(&q(Some("auth"), None, None)).traces[0];
    assert_eq!(hit.root_service_name, "gw");
    assert_eq!(hit.span_set.as_ref().unwrap().matched, 1);
    let stats = hit.service_stats.as_ref().unwrap();
    assert_eq!((stats["gw"].span_count, stats["auth"].span_count), (1, 1));
    // Tempo's JSON: uint64 as strings, uint32 as numbers, zeros left out, an empty list kept.
    let json = serde_json::to_value(store.search(&q(Some("auth"), None, None))).unwrap();
    let trace = &json["traces"][0];
    assert_eq!(trace["startTimeUnixNano"], "100000000000");
    assert_eq!(trace["durationMs"], 2);
    assert_eq!(trace["spanSets"][0]["matched"], 1);
    assert_eq!(
        trace["serviceStats"]["gw"],
        serde_json::json!({ "spanCount": 1 })
    );
    assert_eq!(json["metrics"]["inspectedTraces"], 3);
    let none = serde_json::to_value(store.search(&q(Some("none"), None, None))).unwrap();
    assert_eq!(none["traces"], serde_json::json!([]));
}

#[test]
fn counted_traces_can_be_forgotten_without_counting_as_evicted() {
    let store = SpanStore::new(100, usize::MAX);
    store.ingest(request(
        "gw",
        &[(1, 1, 0, 10), (1, 2, 1, 10), (2, 3, 0, 20)],
    ));
    store.forget_before(15 * 1_000_000_000);
    let stats = store.stats();
    assert_eq!((stats.traces, stats.spans, stats.evicted_spans), (1, 1, 0));
    assert!(store.trace(&[1; 16]).is_none() && store.trace(&[2; 16]).is_some());
    // The eviction queue forgot it too: the next eviction takes trace 2, not a ghost.
    let store = SpanStore::new(2, usize::MAX);
    store.ingest(request("gw", &[(1, 1, 0, 10), (2, 2, 0, 20)]));
    store.forget_before(15 * 1_000_000_000);
    store.ingest(request("gw", &[(3, 3, 0, 30), (4, 4, 0, 40)]));
    assert_eq!(store.stats().evicted_traces, 1);
    assert!(store.trace(&[2; 16]).is_none() && store.trace(&[4; 16]).is_some());
}

#[test]
fn search_trims_leading_zeros_like_tempo() {
    let store = SpanStore::new(10, usize::MAX);
    let mut req = request("gw", &[(0x11, 1, 0, 1)]);
    req.resource_spans[0].scope_spans[0].spans[0].trace_id[0] = 0;
    store.ingest(req);
    let id = &store.search(&SearchQuery::default()).traces[0].trace_id;
    assert_eq!(id.len(), 30);
}

#[test]
fn trace_is_tempo_json_with_base64_ids() {
    let store = SpanStore::new(10, usize::MAX);
    store.ingest(request("gw", &[(7, 1, 0, 1)]));
    store.ingest(request("auth", &[(7, 2, 1, 1)]));
    let json = serde_json::to_value(store.trace(&[7; 16]).unwrap()).unwrap();
    let batches = json["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2);
    let span = &batches[1]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], base64_id(&[7; 16]));
    assert_eq!(span["parentSpanId"], base64_id(&[1; 8]));
    assert_eq!(span["kind"], "SPAN_KIND_SERVER");
    assert_eq!(span["startTimeUnixNano"], "1000000000");
    assert_eq!(
        batches[1]["resource"]["attributes"][0]["value"]["stringValue"],
        "auth"
    );
}

#[test]
fn span_attributes_come_back_whole_in_order() {
    use any_value::Value;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;
    let kv = |key: &str, value: Value| PbKeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..PbKeyValue::default()
    };
    let mut req = request("gw", &[(7, 1, 0, 1)]);
    req.resource_spans[0].scope_spans[0].spans[0].attributes = vec![
        kv(
            "http.route",
            Value::StringValue("/api/auth/register".into()),
        ),
        kv("http.status_code", Value::IntValue(-201)),
        kv("ok", Value::BoolValue(true)),
        kv("ratio", Value::DoubleValue(0.25)),
        kv("raw", Value::BytesValue(vec![0, 255])),
        kv(
            "list",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("a".into())),
                }],
            }),
        ),
        PbKeyValue {
            key: "empty".into(),
            ..PbKeyValue::default()
        },
    ];
    let store = SpanStore::new(10, usize::MAX);
    store.ingest(req);
    let json = serde_json::to_value(store.trace(&[7; 16]).unwrap()).unwrap();
    let attributes = &json["batches"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    let keys: Vec<&str> = attributes
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "http.route",
            "http.status_code",
            "ok",
            "ratio",
            "raw",
            "list",
            "empty"
        ]
    );
    assert_eq!(attributes[0]["value"]["stringValue"], "/api/auth/register");
    assert_eq!(attributes[1]["value"]["intValue"], "-201");
    assert_eq!(attributes[2]["value"]["boolValue"], true);
    assert_eq!(attributes[3]["value"]["doubleValue"], 0.25);
    assert_eq!(attributes[4]["value"]["bytesValue"], base64_id(&[0, 255]));
    assert_eq!(
        attributes[5]["value"]["arrayValue"]["values"][0]["stringValue"],
        "a"
    );
}
