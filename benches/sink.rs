//! Sink ingest throughput and memory per stored span.
//!
//! Throughput: decoding protobuf `ExportTraceServiceRequest` bodies of 512 demo-like spans (a
//! gateway server span with HTTP attributes, its gRPC client span, the auth server span with RPC
//! attributes) and storing them, on one thread, into a store bounded at 1,000,000 spans (so the
//! steady state includes eviction). Memory: a counting global allocator measures the heap held by
//! a store filled with the same spans, divided by the spans it holds; printed before the timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tracebench::sink::otlp::{Encoding, decode};
use tracebench::sink::store::SpanStore;

struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const BATCH_SPANS: usize = 512;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// The attributes of both sides of the Register call.
fn rpc() -> Vec<KeyValue> {
    vec![
        kv("rpc.system", s("grpc")),
        kv("rpc.service", s("user.UserService")),
        kv("rpc.method", s("Register")),
    ]
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("telemetry.sdk.language", s("rust")),
            kv("telemetry.sdk.name", s("opentelemetry")),
            kv("telemetry.sdk.version", s("0.33.1")),
        ],
        ..Resource::default()
    }
}

/// One batch per service as the demo's exporters send them: `BATCH_SPANS` spans in all,
/// three per request, with fresh trace ids from `seed`.
fn batch(seed: u64) -> ExportTraceServiceRequest {
    let requests = BATCH_SPANS / 3 + 1;
    let mut gateway = Vec::new();
    let mut auth = Vec::new();
    for r in 0..requests as u64 {
        let trace_id = ((seed << 32 | r) as u128 | 1 << 127).to_be_bytes().to_vec();
        let start = 1_764_086_400_000_000_000 + (seed * 1000 + r) * 1_000_000;
        let span = |id: u64, parent: u64, name: &str, kind: i32, attributes| Span {
            trace_id: trace_id.clone(),
            span_id: (seed << 40 | r << 8 | id).to_be_bytes().to_vec(),
            parent_span_id: if parent == 0 {
                vec![]
            } else {
                (seed << 40 | r << 8 | parent).to_be_bytes().to_vec()
            },
            name: name.into(),
            kind,
            start_time_unix_nano: start + id * 10_000,
            end_time_unix_nano: start + 2_000_000 - id * 10_000,
            attributes,
            ..Span::default()
        };
        gateway.push(span(
            1,
            0,
            "POST /api/auth/register",
            2,
            vec![
                kv("http.request.method", s("POST")),
                kv("url.path", s("/api/auth/register")),
                kv("http.route", s("/api/auth/register")),
                kv("http.response.status_code", any_value::Value::IntValue(200)),
            ],
        ));
        gateway.push(span(2, 1, "user.UserService/Register", 3, rpc()));
        auth.push(span(
            3,
            2,
            "user.UserService/Register",
            2,
            [
                rpc(),
                vec![kv("rpc.grpc.status_code", any_value::Value::IntValue(0))],
            ]
            .concat(),
        ));
    }
    let total = gateway.len() + auth.len();
    let excess = total - BATCH_SPANS;
    gateway.truncate(gateway.len() - excess);
    let rs = |service: &str, spans| ResourceSpans {
        resource: Some(resource(service)),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: service.into(),
                ..Default::default()
            }),
            spans,
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![rs("api-gateway", gateway), rs("user-auth-service", auth)],
    }
}

fn memory_per_span() {
    const SPANS: usize = 1_000_000;
    let bodies: Vec<Vec<u8>> = (0..(SPANS / BATCH_SPANS) as u64)
        .map(|i| batch(i).encode_to_vec())
        .collect();
    let before = HELD.load(Ordering::Relaxed);
    let store = SpanStore::new(SPANS, usize::MAX);
    for body in &bodies {
        store.ingest(decode(body, Encoding::Protobuf).expect("valid"));
    }
    let held = HELD.load(Ordering::Relaxed) - before;
    let stats = store.stats();
    println!(
        "sink memory: {} spans in {} traces hold {:.1} MiB of heap: {:.0} bytes per stored span \
         (the store's estimate: {:.0}; protobuf body {:.0} bytes per span)",
        stats.spans,
        stats.traces,
        held as f64 / (1024.0 * 1024.0),
        held as f64 / stats.spans as f64,
        stats.bytes as f64 / stats.spans as f64,
        bodies[0].len() as f64 / BATCH_SPANS as f64,
    );
    drop(black_box(store));
}

fn ingest(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (0..64).map(|i| batch(i).encode_to_vec()).collect();
    let store = SpanStore::new(1_000_000, usize::MAX);
    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(BATCH_SPANS as u64));
    let mut next = 0usize;
    let mut round = 0u64;
    group.bench_function("decode_and_store_512_spans", |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            if next == 0 {
                round += 1;
            }
            let mut request = decode(black_box(&bodies[next]), Encoding::Protobuf).expect("valid");
            // Fresh trace ids each round, so traces keep arriving (and old ones are evicted).
            for rs in &mut request.resource_spans {
                for span in rs.scope_spans.iter_mut().flat_map(|s| &mut s.spans) {
                    span.trace_id[0..8].copy_from_slice(&(round | 1 << 63).to_be_bytes());
                }
            }
            store.ingest(request)
        })
    });
    group.finish();
    let stats = store.stats();
    println!(
        "sink store after the run: {} spans held, {} evicted (bound {})",
        stats.spans, stats.evicted_spans, stats.max_spans
    );
}

fn main() {
    memory_per_span();
    // No plots: criterion's plotters backend needs system fonts this machine lacks.
    let mut c = Criterion::default().without_plots().configure_from_args();
    ingest(&mut c);
    c.final_summary();
}
