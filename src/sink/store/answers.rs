//! The store's answers in Tempo's JSON: a search (`/api/search`) and a whole trace
//! (`/api/traces/<id>`), with each span's attributes decoded again from their stored encoding.

use std::sync::Arc;

use super::*;

impl SpanStore {
    pub fn search(&self, query: &SearchQuery) -> model::SearchResponse {
        let inner = self.lock();
        // Tempo's trace filter: first span start <= end and last span end >= start, both in
        // whole seconds and inclusive (`tempodb/encoding/vparquet4/block_traceql.go`).
        let start_ns = query.start_s.map_or(0, |s| s.saturating_mul(1_000_000_000));
        let end_ns = query
            .end_s
            .map_or(u64::MAX, |s| s.saturating_mul(1_000_000_000));
        let service_matches = |span: &StoredSpan| {
            query
                .service
                .as_deref()
                .is_none_or(|s| span.origin().service == s)
        };
        let mut hits: Vec<(u64, &TraceId, &Trace)> = inner
            .traces
            .iter()
            .filter_map(|(id, trace)| {
                let (first, last) = trace.bounds();
                let overlaps = first <= end_ns && last >= start_ns;
                (overlaps && trace.spans.iter().any(service_matches)).then_some((first, id, trace))
            })
            .collect();
        hits.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let traces = hits
            .iter()
            .take(query.limit)
            .map(|(first, id, trace)| {
                let (_, last) = trace.bounds();
                let root = trace.spans.iter().find(|s| s.parent_span_id.is_none());
                let matched: Vec<&StoredSpan> =
                    trace.spans.iter().filter(|s| service_matches(s)).collect();
                let span_set = model::SpanSet {
                    spans: matched
                        .iter()
                        .take(query.spss)
                        .map(|s| span_set_span(s))
                        .collect(),
                    matched: matched.len() as u64,
                };
                model::TraceSearchMetadata {
                    trace_id: hex_encode(*id).trim_start_matches('0').to_string(),
                    root_service_name: root.map_or_else(
                        || "<root span not yet received>".to_string(),
                        |r| r.origin().service.clone(),
                    ),
                    root_trace_name: root.map(|r| r.name().to_string()).unwrap_or_default(),
                    start_time_unix_nano: *first,
                    duration_ms: last.saturating_sub(*first) / 1_000_000,
                    span_set: Some(span_set.clone()),
                    span_sets: vec![span_set],
                    service_stats: Some(service_stats(trace)),
                }
            })
            .collect();
        model::SearchResponse {
            traces,
            metrics: model::SearchMetrics {
                inspected_traces: inner.traces.len() as u64,
                ..model::SearchMetrics::default()
            },
        }
    }

    /// The whole trace, one batch per resource and scope, as Tempo's `/api/traces/<id>` writes it.
    pub fn trace(&self, id: &TraceId) -> Option<model::TraceResponse> {
        let inner = self.lock();
        let trace = inner.traces.get(id)?;
        // One batch per origin, an origin being its block and its index there.
        let mut batches: Vec<((*const Block, u32), model::Batch)> = Vec::new();
        for span in &trace.spans {
            let origin = (Arc::as_ptr(&span.block), span.origin);
            let at = match batches.iter().position(|(o, _)| *o == origin) {
                Some(at) => at,
                None => {
                    batches.push((origin, new_batch(span.origin())));
                    batches.len() - 1
                }
            };
            batches[at].1.scope_spans[0]
                .spans
                .push(to_model_span(id, span));
        }
        Some(model::TraceResponse {
            batches: batches.into_iter().map(|(_, b)| b).collect(),
        })
    }
}

/// Spans and error spans (status code 2) per service, as Tempo's `serviceStats`.
fn service_stats(trace: &Trace) -> std::collections::BTreeMap<String, model::ServiceStats> {
    let mut stats = std::collections::BTreeMap::<String, model::ServiceStats>::new();
    for span in &trace.spans {
        let entry = stats.entry(span.origin().service.clone()).or_default();
        entry.span_count += 1;
        entry.error_count += u64::from(span.status_code == 2);
    }
    stats
}

fn span_set_span(span: &StoredSpan) -> model::SpanSetSpan {
    model::SpanSetSpan {
        span_id: hex_encode(&span.span_id),
        name: span.name().to_string(),
        start_time_unix_nano: span.start_ns,
        duration_nanos: span.end_ns.saturating_sub(span.start_ns),
        attributes: vec![model::KeyValue {
            key: "service.name".into(),
            value: model::AnyValue::string(span.origin().service.clone()),
        }],
    }
}

fn new_batch(origin: &Origin) -> model::Batch {
    model::Batch {
        resource: model::Resource {
            attributes: origin.resource.iter().map(to_model_kv).collect(),
        },
        scope_spans: vec![model::ScopeSpans {
            scope: Some(model::Scope {
                name: origin.scope_name.clone(),
                version: origin.scope_version.clone(),
            }),
            spans: Vec::new(),
        }],
    }
}

fn to_model_span(trace_id: &TraceId, span: &StoredSpan) -> model::Span {
    const KINDS: [&str; 6] = [
        "SPAN_KIND_UNSPECIFIED",
        "SPAN_KIND_INTERNAL",
        "SPAN_KIND_SERVER",
        "SPAN_KIND_CLIENT",
        "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ];
    const STATUS: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
    let kind = usize::try_from(span.kind)
        .ok()
        .and_then(|k| KINDS.get(k))
        .map_or_else(|| serde_json::json!(span.kind), |k| serde_json::json!(k));
    let status = usize::try_from(span.status_code)
        .ok()
        .and_then(|c| STATUS.get(c))
        .filter(|_| span.status_code != 0)
        .map_or(
            serde_json::Value::Null,
            |c| serde_json::json!({ "code": c }),
        );
    model::Span {
        trace_id: base64_id(trace_id),
        span_id: base64_id(&span.span_id),
        parent_span_id: span
            .parent_span_id
            .map(|p| base64_id(&p))
            .unwrap_or_default(),
        name: span.name().to_string(),
        kind,
        start_time_unix_nano: span.start_ns,
        end_time_unix_nano: span.end_ns,
        attributes: decode_attributes(span.attributes())
            .iter()
            .map(to_model_kv)
            .collect(),
        status,
    }
}

/// The attributes [`into_block`] wrote; they were encoded by this process, so decoding
/// cannot fail short of a bug, and stops at the first undecodable one if it ever did.
fn decode_attributes(mut buf: &[u8]) -> Vec<PbKeyValue> {
    let mut attributes = Vec::new();
    while !buf.is_empty() {
        match PbKeyValue::decode_length_delimited(&mut buf) {
            Ok(kv) => attributes.push(kv),
            Err(_) => break,
        }
    }
    attributes
}

fn to_model_kv(kv: &PbKeyValue) -> model::KeyValue {
    use any_value::Value;
    let mut value = model::AnyValue::default();
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => value.string_value = Some(s.clone()),
        Some(Value::BoolValue(b)) => value.bool_value = Some(*b),
        Some(Value::IntValue(i)) => value.int_value = Some(serde_json::json!(i.to_string())),
        Some(Value::DoubleValue(d)) => value.double_value = Some(*d),
        Some(Value::BytesValue(b)) => value.bytes_value = Some(base64_id(b)),
        Some(other) => {
            let json = serde_json::to_value(other).unwrap_or_default();
            value.array_value = json.get("arrayValue").cloned();
            value.kvlist_value = json.get("kvlistValue").cloned();
        }
        None => {}
    }
    model::KeyValue {
        key: kv.key.clone(),
        value,
    }
}
