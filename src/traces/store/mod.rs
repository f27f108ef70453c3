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

mod answers;

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
}

impl Trace {
    /// Earliest start and latest end of its spans, in unix nanoseconds.
    fn bounds(&self) -> (u64, u64) {
        let first = self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let last = self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        (first, last)
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

#[cfg(test)]
pub(crate) mod tests;
