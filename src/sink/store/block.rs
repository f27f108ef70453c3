//! What stored spans own, one [`Block`] per export: their names and encoded attributes in one
//! allocation, and the resources and scopes they came from; and how an export becomes one.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue as PbKeyValue, any_value};
use prost::Message;

use super::{ALLOCATION_BYTES, TraceId};

/// Where spans came from: shared by all spans of one resource and scope in one batch.
#[derive(Debug)]
pub(super) struct Origin {
    pub(super) service: String,
    pub(super) resource: Vec<PbKeyValue>,
    pub(super) scope_name: String,
    pub(super) scope_version: String,
}

impl Origin {
    pub(super) fn owned_bytes(&self) -> usize {
        let resource = self.resource.capacity() * std::mem::size_of::<PbKeyValue>()
            + self
                .resource
                .iter()
                .map(|kv| kv.encoded_len() + 2 * ALLOCATION_BYTES)
                .sum::<usize>();
        self.service.capacity()
            + self.scope_name.capacity()
            + self.scope_version.capacity()
            + resource
            + 4 * ALLOCATION_BYTES
    }
}

/// What the spans of one export own, in one allocation for all their names and attributes.
/// It counts itself in the store's total of live blocks while it lives, that is until the last
/// of its spans is evicted or forgotten.
#[derive(Debug)]
pub(super) struct Block {
    pub(super) origins: Vec<Origin>,
    /// Each span's name then its attributes as protobuf, each `KeyValue` length-delimited:
    /// decoded again only when the whole trace is asked for.
    pub(super) text: Box<[u8]>,
    pub(super) bytes: usize,
    pub(super) live: Arc<AtomicUsize>,
}

impl Block {
    pub(super) fn new(origins: Vec<Origin>, text: Vec<u8>, live: &Arc<AtomicUsize>) -> Block {
        let text = text.into_boxed_slice();
        let bytes = std::mem::size_of::<Block>()
            + 3 * ALLOCATION_BYTES
            + text.len()
            + origins.capacity() * std::mem::size_of::<Origin>()
            + origins.iter().map(Origin::owned_bytes).sum::<usize>();
        live.fetch_add(bytes, Ordering::Relaxed);
        Block {
            origins,
            text,
            bytes,
            live: Arc::clone(live),
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.live.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A span's own fields; what it owns lies in its block at `text`.
#[derive(Debug)]
pub(super) struct SpanFields {
    pub(super) span_id: [u8; 8],
    pub(super) parent_span_id: Option<[u8; 8]>,
    pub(super) kind: i32,
    pub(super) start_ns: u64,
    pub(super) end_ns: u64,
    pub(super) status_code: i32,
    /// Index of its resource and scope in the block's `origins`.
    pub(super) origin: u32,
    /// Its name and attributes in the block's `text`: the name is the first `name_len` bytes.
    pub(super) text: Range<u32>,
    pub(super) name_len: u32,
}

#[derive(Debug)]
pub(super) struct StoredSpan {
    pub(super) fields: SpanFields,
    pub(super) block: Arc<Block>,
}

impl std::ops::Deref for StoredSpan {
    type Target = SpanFields;
    fn deref(&self) -> &SpanFields {
        &self.fields
    }
}

impl StoredSpan {
    pub(super) fn name(&self) -> &str {
        let start = self.text.start as usize;
        // Copied from a `String`, so always UTF-8.
        std::str::from_utf8(&self.block.text[start..start + self.name_len as usize])
            .unwrap_or_default()
    }

    pub(super) fn attributes(&self) -> &[u8] {
        &self.block.text[self.text.start as usize + self.name_len as usize..self.text.end as usize]
    }

    pub(super) fn origin(&self) -> &Origin {
        &self.block.origins[self.origin as usize]
    }
}

/// Moves what an export's spans own into one [`Block`] (counted in `live` from here on) and
/// returns their other fields. A span whose text would lie past 4 GiB in the block is skipped:
/// it cannot happen, since the block holds less than the body it was decoded from and bodies
/// are at most 1 GiB.
pub(super) fn into_block(
    request: ExportTraceServiceRequest,
    live: &Arc<AtomicUsize>,
) -> (Arc<Block>, Vec<(TraceId, SpanFields)>) {
    let text_len: usize = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|span| span.name.len() + attributes_len(&span.attributes))
        .sum();
    let mut text = Vec::with_capacity(text_len);
    let mut origins = Vec::new();
    let mut batch = Vec::new();
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
            let Ok(origin) = u32::try_from(origins.len()) else {
                continue;
            };
            origins.push(Origin {
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
                let start = text.len();
                text.extend_from_slice(span.name.as_bytes());
                for kv in &span.attributes {
                    // Cannot fail: the buffer grows as needed.
                    let _ = kv.encode_length_delimited(&mut text);
                }
                let (Ok(from), Ok(to), Ok(name_len)) = (
                    u32::try_from(start),
                    u32::try_from(text.len()),
                    u32::try_from(span.name.len()),
                ) else {
                    text.truncate(start);
                    continue;
                };
                let parent_span_id = <[u8; 8]>::try_from(span.parent_span_id.as_slice())
                    .ok()
                    .filter(|p| *p != [0; 8]);
                batch.push((
                    trace_id,
                    SpanFields {
                        span_id,
                        parent_span_id,
                        kind: span.kind,
                        start_ns: span.start_time_unix_nano,
                        end_ns: span.end_time_unix_nano,
                        status_code: span.status.map(|s| s.code).unwrap_or_default(),
                        origin,
                        text: from..to,
                        name_len,
                    },
                ));
            }
        }
    }
    (Arc::new(Block::new(origins, text, live)), batch)
}

/// Estimated heap of a decoded export: its encoded size (which bounds its strings and ids) and
/// every span's and attribute's struct and the allocations they own.
pub(super) fn decoded_bytes(request: &ExportTraceServiceRequest, encoded: usize) -> usize {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans);
    let per_span = std::mem::size_of::<Span>() + 5 * ALLOCATION_BYTES;
    let per_attribute = std::mem::size_of::<PbKeyValue>() + 2 * ALLOCATION_BYTES;
    encoded
        + spans
            .map(|span| per_span + span.attributes.len() * per_attribute)
            .sum::<usize>()
}

/// The bytes `encode_length_delimited` writes for these attributes.
pub(super) fn attributes_len(attributes: &[PbKeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| prost::length_delimiter_len(kv.encoded_len()) + kv.encoded_len())
        .sum()
}
