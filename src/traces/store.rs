//! The sink's bounded in-memory trace store.
//!
//! Spans are grouped by trace id; traces are kept in the order they were first seen. When the
//! store holds more than `max_spans` spans, or more than `max_bytes` of them by its own estimate
//! of their heap (so a stream of fat spans is bounded too), it drops whole traces, oldest first,
//! and counts what it dropped, so memory stays bounded however long the sink runs and the loss is
//! visible (a count that silently shrinks would pass for missing traces). One mutex guards it
//! all: ingest is a short move of already-decoded data, and queries are rare.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue as PbKeyValue, any_value};
use prost::Message;
use serde::Serialize;

use super::model::{self, base64_id, hex_encode};

pub type TraceId = [u8; 16];

/// Where spans came from: shared by all spans of one resource and scope in one batch.
#[derive(Debug)]
struct Origin {
    service: String,
    resource: Vec<PbKeyValue>,
    scope_name: String,
    scope_version: String,
}

#[derive(Debug)]
struct StoredSpan {
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
    name: String,
    kind: i32,
    start_ns: u64,
    end_ns: u64,
    status_code: i32,
    /// The span's attributes as protobuf, each `KeyValue` length-delimited: one allocation
    /// instead of a few per attribute, about half the heap of the decoded list (README,
    /// Measured). Decoded again only when the whole trace is asked for.
    attributes: Box<[u8]>,
    origin: Arc<Origin>,
}

#[derive(Debug, Default)]
struct Trace {
    spans: Vec<StoredSpan>,
    /// The estimated heap of its spans: their slots in `spans` (its capacity) and what each
    /// owns ([`StoredSpan::owned_bytes`]).
    bytes: usize,
}

/// The allocator's header and rounding per allocation (glibc: 8 to 16 bytes, plus rounding up
/// to 16).
const ALLOCATION_BYTES: usize = 16;

impl StoredSpan {
    /// Estimated heap the span owns: its name and attributes (its own slot is counted by the
    /// trace's `Vec`).
    fn owned_bytes(&self) -> usize {
        self.name.capacity() + self.attributes.len() + 2 * ALLOCATION_BYTES
    }
}

impl Trace {
    /// Adds a span; returns the estimated bytes this added (the span's, and the slots of a
    /// grown `Vec`).
    fn push(&mut self, span: StoredSpan) -> usize {
        let slots_before = self.spans.capacity();
        if self.spans.is_empty() {
            // Most traces get one span per export: a first push would reserve four slots.
            self.spans.reserve_exact(1);
        }
        let mut added = span.owned_bytes();
        self.spans.push(span);
        let grown = self.spans.capacity() - slots_before;
        if grown > 0 {
            added += grown * std::mem::size_of::<StoredSpan>()
                + if slots_before == 0 {
                    ALLOCATION_BYTES
                } else {
                    0
                };
        }
        self.bytes += added;
        added
    }
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<TraceId, Trace>,
    /// Trace ids in first-seen order: the eviction queue.
    order: VecDeque<TraceId>,
    spans: usize,
    /// Estimated heap of every trace's spans ([`Trace::bytes`]); see [`Inner::bytes`].
    span_bytes: usize,
    received_spans: u64,
    evicted_spans: u64,
    evicted_traces: u64,
}

impl Inner {
    /// Estimated heap of the store: the traces' spans and the two tables as allocated (their
    /// capacity, not their length: a table keeps its size after evictions).
    fn bytes(&self) -> usize {
        // hashbrown: buckets hold 8/7 of the capacity, each with a control byte beside it.
        let table = self.traces.capacity() * 8 / 7 * (std::mem::size_of::<(TraceId, Trace)>() + 1);
        let queue = self.order.capacity() * std::mem::size_of::<TraceId>();
        self.span_bytes + table + queue
    }
}

/// Counters the sink reports (`/api/status` and its log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub max_spans: usize,
    pub max_bytes: usize,
    pub spans: usize,
    /// Estimated heap of the stored spans (what `max_bytes` bounds).
    pub bytes: usize,
    pub traces: usize,
    pub received_spans: u64,
    pub evicted_spans: u64,
    pub evicted_traces: u64,
}

/// A search: traces with a span of `service` (any service when `None`) overlapping
/// `[start_s, end_s]` (unix seconds, both ends inclusive as in Tempo, open when `None`), newest
/// first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub service: Option<String>,
    pub start_s: Option<u64>,
    pub end_s: Option<u64>,
    pub limit: usize,
    /// Spans per span set.
    pub spss: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            service: None,
            start_s: None,
            end_s: None,
            limit: 20,
            spss: 3,
        }
    }
}

#[derive(Debug)]
pub struct SpanStore {
    max_spans: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
    /// Bytes freed since memory was last given back ([`SpanStore::give_back`]).
    freed_since_trim: AtomicUsize,
}

/// How many estimated bytes of freed spans make the store give memory back to the system: a
/// trim costs about as much as ingesting a few hundred spans, so it is spread over thousands.
const TRIM_EVERY: usize = 4 * 1024 * 1024;

impl SpanStore {
    pub fn new(max_spans: usize, max_bytes: usize) -> SpanStore {
        SpanStore {
            max_spans,
            max_bytes,
            inner: Mutex::new(Inner::default()),
            freed_since_trim: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent enough to keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores every span of a decoded export request (ids already checked by `otlp::check_ids`;
    /// spans with malformed ids are skipped). Returns how many spans were stored.
    pub fn ingest(&self, request: ExportTraceServiceRequest) -> usize {
        let mut batch: Vec<(TraceId, StoredSpan)> = Vec::new();
        for rs in request.resource_spans {
            let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
            let service = resource
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                let scope = ss.scope.unwrap_or_default();
                let origin = Arc::new(Origin {
                    service: service.clone(),
                    resource: resource.clone(),
                    scope_name: scope.name,
                    scope_version: scope.version,
                });
                for span in ss.spans {
                    let (Ok(trace_id), Ok(span_id)) = (
                        TraceId::try_from(span.trace_id.as_slice()),
                        <[u8; 8]>::try_from(span.span_id.as_slice()),
                    ) else {
                        continue;
                    };
                    let parent_span_id = <[u8; 8]>::try_from(span.parent_span_id.as_slice())
                        .ok()
                        .filter(|p| *p != [0; 8]);
                    batch.push((
                        trace_id,
                        StoredSpan {
                            span_id,
                            parent_span_id,
                            name: span.name,
                            kind: span.kind,
                            start_ns: span.start_time_unix_nano,
                            end_ns: span.end_time_unix_nano,
                            status_code: span.status.map(|s| s.code).unwrap_or_default(),
                            attributes: encode_attributes(&span.attributes),
                            origin: Arc::clone(&origin),
                        },
                    ));
                }
            }
        }
        let stored = batch.len();
        let incoming: usize = batch
            .iter()
            .map(|(_, span)| span.owned_bytes() + std::mem::size_of::<StoredSpan>())
            .sum();
        let mut inner = self.lock();
        // Room first, so the store holds no more than its bounds even while a batch goes in.
        let mut freed = self.evict(&mut inner, stored, incoming);
        for (trace_id, span) in batch {
            let trace = inner.traces.entry(trace_id).or_default();
            let new = trace.spans.is_empty();
            let added = trace.push(span);
            inner.span_bytes += added;
            if new {
                inner.order.push_back(trace_id);
            }
        }
        inner.spans += stored;
        inner.received_spans += stored as u64;
        // The estimate was short when traces' Vecs or the tables grew.
        freed += self.evict(&mut inner, 0, 0);
        drop(inner);
        self.give_back(freed);
        stored
    }

    /// Drops the oldest traces until `spans` more spans and `bytes` more bytes fit within the
    /// bounds (or the store is empty); returns the estimated bytes freed.
    fn evict(&self, inner: &mut Inner, spans: usize, bytes: usize) -> usize {
        let mut freed = 0;
        while inner.spans + spans > self.max_spans || inner.bytes() + bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(trace) = inner.traces.remove(&oldest) {
                inner.spans -= trace.spans.len();
                inner.span_bytes -= trace.bytes;
                inner.evicted_spans += trace.spans.len() as u64;
                inner.evicted_traces += 1;
                freed += trace.bytes;
            }
        }
        freed
    }

    /// Returns freed memory to the system once every [`TRIM_EVERY`] bytes freed. glibc keeps
    /// what evicted traces freed in its per-thread arenas: a sink fed 10 times its byte bound
    /// held 86 MiB of RSS for 24 MiB of spans without this (README, Measured).
    fn give_back(&self, freed: usize) {
        // Two threads may both trim, or count a little twice: harmless either way.
        let due = self.freed_since_trim.fetch_add(freed, Ordering::Relaxed) + freed >= TRIM_EVERY;
        if due {
            self.freed_since_trim.store(0, Ordering::Relaxed);
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if due {
            // SAFETY: malloc_trim takes a padding size and touches only the allocator's state.
            unsafe {
                libc::malloc_trim(0);
            }
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        let _ = due;
    }

    /// Drops every trace that started before `before_ns` (their cell has been counted), so a
    /// long run holds only the traces still to count. Not counted as evicted: nothing was lost.
    pub fn forget_before(&self, before_ns: u64) {
        let mut inner = self.lock();
        let Inner {
            traces,
            order,
            spans,
            span_bytes,
            ..
        } = &mut *inner;
        let bytes_before = *span_bytes;
        traces.retain(|_, trace| {
            let keep = trace.bounds().0 >= before_ns;
            if !keep {
                *spans -= trace.spans.len();
                *span_bytes -= trace.bytes;
            }
            keep
        });
        order.retain(|id| traces.contains_key(id));
        let freed = bytes_before - *span_bytes;
        drop(inner);
        self.give_back(freed);
    }

    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            max_spans: self.max_spans,
            max_bytes: self.max_bytes,
            spans: inner.spans,
            bytes: inner.bytes(),
            traces: inner.traces.len(),
            received_spans: inner.received_spans,
            evicted_spans: inner.evicted_spans,
            evicted_traces: inner.evicted_traces,
        }
    }

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
                .is_none_or(|s| span.origin.service == s)
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
                        |r| r.origin.service.clone(),
                    ),
                    root_trace_name: root.map(|r| r.name.clone()).unwrap_or_default(),
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
        let mut batches: Vec<(&Arc<Origin>, model::Batch)> = Vec::new();
        for span in &trace.spans {
            let at = match batches
                .iter()
                .position(|(o, _)| Arc::ptr_eq(o, &span.origin))
            {
                Some(at) => at,
                None => {
                    batches.push((&span.origin, new_batch(&span.origin)));
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

impl Trace {
    /// Earliest start and latest end of its spans, in unix nanoseconds.
    fn bounds(&self) -> (u64, u64) {
        let first = self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let last = self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        (first, last)
    }
}

/// Spans and error spans (status code 2) per service, as Tempo's `serviceStats`.
fn service_stats(trace: &Trace) -> std::collections::BTreeMap<String, model::ServiceStats> {
    let mut stats = std::collections::BTreeMap::<String, model::ServiceStats>::new();
    for span in &trace.spans {
        let entry = stats.entry(span.origin.service.clone()).or_default();
        entry.span_count += 1;
        entry.error_count += u64::from(span.status_code == 2);
    }
    stats
}

fn span_set_span(span: &StoredSpan) -> model::SpanSetSpan {
    model::SpanSetSpan {
        span_id: hex_encode(&span.span_id),
        name: span.name.clone(),
        start_time_unix_nano: span.start_ns,
        duration_nanos: span.end_ns.saturating_sub(span.start_ns),
        attributes: vec![model::KeyValue {
            key: "service.name".into(),
            value: model::AnyValue::string(span.origin.service.clone()),
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
        name: span.name.clone(),
        kind,
        start_time_unix_nano: span.start_ns,
        end_time_unix_nano: span.end_ns,
        attributes: decode_attributes(&span.attributes)
            .iter()
            .map(to_model_kv)
            .collect(),
        status,
    }
}

fn encode_attributes(attributes: &[PbKeyValue]) -> Box<[u8]> {
    let mut buf = Vec::with_capacity(
        attributes
            .iter()
            .map(|kv| prost::length_delimiter_len(kv.encoded_len()) + kv.encoded_len())
            .sum(),
    );
    for kv in attributes {
        // Cannot fail: the buffer grows as needed.
        let _ = kv.encode_length_delimited(&mut buf);
    }
    buf.into_boxed_slice()
}

/// The attributes [`encode_attributes`] wrote; they were encoded by this process, so decoding
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

#[cfg(test)]
pub(crate) mod tests {
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
            assert!(store.stats().bytes <= BOUND, "{:?}", store.stats());
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
}
