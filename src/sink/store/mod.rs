//! The sink's bounded in-memory trace store.
//!
//! Spans are grouped by trace id; traces are kept in the order they were first seen. The store
//! drops whole traces, oldest first, when it holds more than `max_spans` spans, or when its own
//! estimate of their heap plus room for decoding the largest export seen so far exceeds
//! `max_bytes` (so a stream of fat spans is bounded too, and the sink's data as a whole, exports
//! being decoded included, stays within `max_bytes`). It counts what it dropped, so memory stays
//! bounded however long the sink runs and the loss is visible (a count that silently shrinks
//! would pass for missing traces). One mutex guards it all: ingest is a short move of
//! already-decoded data, and queries are rare.
//!
//! What spans own (names, encoded attributes, resources and scopes) is kept in one [`Block`] per
//! export, not one allocation per span: spans of one export are evicted together (oldest first),
//! so the allocator gets back whole blocks instead of a heap riddled with span-sized holes
//! between the short-lived buffers of decoding (README, Measured).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue as PbKeyValue, any_value};
use prost::Message;
use serde::Serialize;

use crate::traces::model::{self, base64_id, hex_encode};

mod answers;
mod block;

use block::{Block, Origin, StoredSpan, decoded_bytes, into_block};

pub type TraceId = [u8; 16];

#[derive(Debug, Default)]
struct Trace {
    spans: Vec<StoredSpan>,
    /// The estimated heap of its span slots (the capacity of `spans`); what the spans own is
    /// counted by their [`Block`].
    bytes: usize,
}

/// The allocator's header and rounding per allocation (glibc: 8 to 16 bytes, plus rounding up
/// to 16).
const ALLOCATION_BYTES: usize = 16;

impl Trace {
    /// Adds a span; returns the estimated bytes this added (the slots of a grown `Vec`).
    fn push(&mut self, span: StoredSpan) -> usize {
        let slots_before = self.spans.capacity();
        if self.spans.is_empty() {
            // Most traces get one span per export: a first push would reserve four slots.
            self.spans.reserve_exact(1);
        }
        let mut added = 0;
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
    /// Estimated heap of every trace's span slots ([`Trace::bytes`]); see [`SpanStore::bytes`].
    span_bytes: usize,
    /// Room kept free for decoding an export: the working memory of the largest one so far.
    working: usize,
    received_spans: u64,
    evicted_spans: u64,
    evicted_traces: u64,
}

/// Counters the sink reports (`/api/status` and its log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub max_spans: usize,
    pub max_bytes: usize,
    pub spans: usize,
    /// Estimated heap of the stored spans.
    pub bytes: usize,
    /// Room kept free within `max_bytes` for decoding the largest export seen so far.
    pub working_bytes: usize,
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
    /// Estimated heap of the live [`Block`]s, kept by the blocks themselves (outside the lock:
    /// a block is built, and counted, before it goes in).
    blocks: Arc<AtomicUsize>,
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
            blocks: Arc::default(),
            freed_since_trim: AtomicUsize::new(0),
        }
    }

    /// Estimated heap of the store: the traces' span slots, the blocks their spans own, and the
    /// two tables as allocated (their capacity, not their length: a table keeps its size after
    /// evictions).
    fn bytes(&self, inner: &Inner) -> usize {
        // hashbrown: buckets hold 8/7 of the capacity, each with a control byte beside it.
        let table = inner.traces.capacity() * 8 / 7 * (std::mem::size_of::<(TraceId, Trace)>() + 1);
        let queue = inner.order.capacity() * std::mem::size_of::<TraceId>();
        inner.span_bytes + self.blocks.load(Ordering::Relaxed) + table + queue
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent enough to keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores every span of a decoded export request (ids already checked by `otlp::check_ids`;
    /// spans with malformed ids are skipped). Returns how many spans were stored.
    pub fn ingest(&self, request: ExportTraceServiceRequest) -> usize {
        // Working memory: while an export is decoded its body is alive twice (as received, in
        // frames, and copied whole for the decoder) beside the decoded request; while it is
        // stored, the decoded request beside the block that replaces it.
        let encoded = request.encoded_len();
        let decoded = decoded_bytes(&request, encoded);
        let working = 2 * encoded + decoded;
        // Copied into its block before the lock: queries and other ingests wait only for the
        // evictions and insertions.
        let (block, batch) = into_block(request, &self.blocks);
        let mut inner = self.lock();
        inner.working = inner.working.max(working);
        let stored = batch.len();
        let slots = stored * std::mem::size_of::<StoredSpan>();
        // Room first (the block already counts), so the store holds no more than its bounds
        // even while a batch goes in.
        let mut freed = self.evict(&mut inner, stored, slots);
        for (trace_id, span) in batch {
            let trace = inner.traces.entry(trace_id).or_default();
            let new = trace.spans.is_empty();
            let added = trace.push(StoredSpan {
                fields: span,
                block: Arc::clone(&block),
            });
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
        drop(block);
        // The decoded request is gone too: its memory is worth giving back as well.
        self.give_back(freed + decoded);
        stored
    }

    /// Drops the oldest traces until `spans` more spans and `bytes` more bytes fit within the
    /// bounds (or the store is empty); returns the estimated bytes freed.
    fn evict(&self, inner: &mut Inner, spans: usize, bytes: usize) -> usize {
        let before = self.bytes(inner);
        while inner.spans + spans > self.max_spans
            || self.bytes(inner) + bytes + inner.working > self.max_bytes
        {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(trace) = inner.traces.remove(&oldest) {
                inner.spans -= trace.spans.len();
                inner.span_bytes -= trace.bytes;
                inner.evicted_spans += trace.spans.len() as u64;
                inner.evicted_traces += 1;
            }
        }
        before.saturating_sub(self.bytes(inner))
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
        let before = self.bytes(&inner);
        let Inner {
            traces,
            order,
            spans,
            span_bytes,
            ..
        } = &mut *inner;
        traces.retain(|_, trace| {
            let keep = trace.bounds().0 >= before_ns;
            if !keep {
                *spans -= trace.spans.len();
                *span_bytes -= trace.bytes;
            }
            keep
        });
        order.retain(|id| traces.contains_key(id));
        let freed = before.saturating_sub(self.bytes(&inner));
        drop(inner);
        self.give_back(freed);
    }

    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            max_spans: self.max_spans,
            max_bytes: self.max_bytes,
            spans: inner.spans,
            bytes: self.bytes(&inner),
            working_bytes: inner.working,
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

#[cfg(test)]
pub(crate) mod tests;
