//! The demo's in-process tracing cost: the gateway's server span with the checklist's
//! attributes, sampled and not, and W3C `traceparent` inject and extract. This is what tracing
//! adds on the request path before any export work; the export side (batching, encoding, gRPC)
//! runs on the batch processor's thread and shows up in tracebench's CPU figures instead.
//!
//! Run: `cargo bench -p demo --bench tracing`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, global};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};

use demo::gateway::{REGISTER_ROUTE, end_server_span, start_server_span};
use demo::telemetry::{extract_from_headers, inject_into_metadata};

/// Accepts every batch and does nothing: the span still goes through the real batch processor's
/// queue, but no network is involved.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

fn provider(sampler: Sampler) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_batch_exporter(Discard)
        .build()
}

fn server_span(c: &mut Criterion) {
    let mut group = c.benchmark_group("gateway_server_span");
    for (name, sampler) in [
        ("sampled", Sampler::AlwaysOn),
        ("not_sampled", Sampler::AlwaysOff),
    ] {
        let provider = provider(sampler);
        let tracer = provider.tracer("bench");
        let root = Context::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let cx = start_server_span(&tracer, &root, black_box(REGISTER_ROUTE));
                end_server_span(&cx, StatusCode::OK);
                cx
            })
        });
        provider
            .shutdown()
            .expect("shutting the bench provider down");
    }
    group.finish();
}

fn propagation(c: &mut Criterion) {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = provider(Sampler::AlwaysOn);
    let tracer = provider.tracer("bench");
    let cx = start_server_span(&tracer, &Context::new(), REGISTER_ROUTE);
    assert!(cx.span().span_context().is_sampled());

    let mut group = c.benchmark_group("traceparent");
    group.bench_function("inject_grpc_metadata", |b| {
        b.iter(|| {
            let mut metadata = tonic::metadata::MetadataMap::new();
            inject_into_metadata(&cx, &mut metadata);
            metadata
        })
    });
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    group.bench_function("extract_http_headers", |b| {
        b.iter(|| extract_from_headers(black_box(&headers)))
    });
    group.finish();
    end_server_span(&cx, StatusCode::OK);
    provider
        .shutdown()
        .expect("shutting the bench provider down");
}

criterion_group!(benches, server_span, propagation);
criterion_main!(benches);
