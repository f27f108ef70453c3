//! OpenTelemetry set-up shared by both demo services, driven only by the standard `OTEL_*`
//! environment, because tracebench switches tracing modes by restarting services with different
//! environments, exactly as an operator would.
//!
//! The SDK 0.33 itself reads `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` (every standard value, in
//! `opentelemetry_sdk/src/trace/config.rs`) and `OTEL_BSP_*`. It ignores `OTEL_SDK_DISABLED`, so
//! this module honours it: no provider is installed and the global no-op tracer and propagator
//! stay in place, which is what "off" costs in a real service.
//!
//! Spans are made through the global tracer and propagated through the global propagator, so the
//! handlers need no `if enabled` branches.

use std::env;

use anyhow::Context as _;
use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The SDK's default when `OTEL_TRACES_SAMPLER` is unset.
const DEFAULT_SAMPLER: &str = "parentbased_always_on";
/// The OTLP/gRPC exporter's default endpoint when neither endpoint variable is set.
const DEFAULT_OTLP_GRPC_ENDPOINT: &str = "http://localhost:4317";

/// Tracing for one service; call [`Telemetry::shutdown`] before exit so queued spans are flushed.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Reads the environment, installs the global tracer provider and W3C propagator (unless
    /// `OTEL_SDK_DISABLED=true`) and logs to stderr what it chose.
    ///
    /// Must run inside a tokio runtime: the tonic exporter's channel is driven by it.
    pub fn init(default_service_name: &str) -> anyhow::Result<Telemetry> {
        if sdk_disabled() {
            eprintln!("tracing disabled (OTEL_SDK_DISABLED=true)");
            return Ok(Telemetry { provider: None });
        }
        let exporter = SpanExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP gRPC span exporter (check OTEL_EXPORTER_OTLP_ENDPOINT)")?;
        let resource = resource(default_service_name);
        let service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|value| value.to_string())
            .unwrap_or_default();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        global::set_tracer_provider(provider.clone());
        global::set_text_map_propagator(TraceContextPropagator::new());
        eprintln!(
            "tracing: OTLP gRPC to {}, sampler {}, service.name {}",
            otlp_endpoint(),
            sampler_description(
                env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
                env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref()
            ),
            service_name,
        );
        Ok(Telemetry {
            provider: Some(provider),
        })
    }

    /// Exports every span still queued, then stops the exporter. Blocks, so it runs on a blocking
    /// thread while the runtime keeps driving the exporter's connection.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => eprintln!("tracing: spans flushed"),
            Ok(Err(err)) => eprintln!("tracing: flushing spans failed: {err}"),
            Err(err) => eprintln!("tracing: flushing spans panicked: {err}"),
        }
    }
}

/// The tracer every handler uses: the SDK's when tracing is on, a no-op one when it is off.
pub fn tracer(name: &'static str) -> BoxedTracer {
    global::tracer(name)
}

/// The sampler the SDK will use, as it reads the two variables (its own warnings about bad values
/// are internal logs, not printed, so a mistyped mode would otherwise go unnoticed).
fn sampler_description(sampler: Option<&str>, arg: Option<&str>) -> String {
    let sampler = sampler.unwrap_or(DEFAULT_SAMPLER);
    match sampler {
        "always_on" | "always_off" | "parentbased_always_on" | "parentbased_always_off" => {
            sampler.to_owned()
        }
        "traceidratio" | "parentbased_traceidratio" => {
            match arg.and_then(|arg| arg.parse::<f64>().ok()) {
                Some(ratio) => format!("{sampler} {ratio}"),
                None => format!(
                    "{sampler} 1 (WARNING: OTEL_TRACES_SAMPLER_ARG {arg:?} is not a number; \
                     the SDK samples everything)"
                ),
            }
        }
        other => format!(
            "{DEFAULT_SAMPLER} (WARNING: unknown OTEL_TRACES_SAMPLER {other:?}, the SDK's fallback)"
        ),
    }
}

/// `OTEL_SDK_DISABLED` as the specification reads it: `true`, case-insensitive.
fn sdk_disabled() -> bool {
    env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// The resource with its `service.name`: `OTEL_SERVICE_NAME`, else `service.name` from
/// `OTEL_RESOURCE_ATTRIBUTES`, else the service's own default (not the SDK's `unknown_service`).
fn resource(default_service_name: &str) -> Resource {
    let detected = Resource::builder().build();
    let named_by_env = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named_by_env {
        detected
    } else {
        Resource::builder()
            .with_service_name(default_service_name.to_owned())
            .build()
    }
}

/// The endpoint the exporter uses, in the SDK's order of precedence (for the start-up log).
fn otlp_endpoint() -> String {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|name| env::var(name).ok().filter(|value| !value.is_empty()))
    .unwrap_or_else(|| DEFAULT_OTLP_GRPC_ENDPOINT.to_owned())
}

/// The W3C Trace Context Level 2 response header that names the trace a request was recorded in.
pub const TRACERESPONSE: &str = "traceresponse";

/// The `traceresponse` value for the context's span (`00-<trace-id>-<span-id>-01`), when that
/// span is recorded and sampled: only then will its trace be in the store. A service of your own
/// can return the same header so that tracebench links its slowest requests to their traces.
pub fn traceresponse(cx: &Context) -> Option<String> {
    let span = cx.span();
    let sc = span.span_context();
    (span.is_recording() && sc.is_valid() && sc.is_sampled())
        .then(|| format!("00-{}-{}-01", sc.trace_id(), sc.span_id()))
}

/// Injects the current trace context (W3C `traceparent`) into outgoing gRPC metadata.
pub fn inject_into_metadata(cx: &Context, metadata: &mut tonic::metadata::MetadataMap) {
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut MetadataInjector(metadata))
    });
}

/// Extracts the caller's trace context from incoming gRPC metadata.
pub fn extract_from_metadata(metadata: &tonic::metadata::MetadataMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&MetadataExtractor(metadata)))
}

/// Extracts the caller's trace context from incoming HTTP headers.
pub fn extract_from_headers(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let key = tonic::metadata::MetadataKey::from_bytes(key.as_bytes());
        let value = tonic::metadata::MetadataValue::try_from(value.as_str());
        if let (Ok(key), Ok(value)) = (key, value) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => Some(key.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_sampler_the_sdk_will_use() {
        assert_eq!(sampler_description(None, None), "parentbased_always_on");
        assert_eq!(
            sampler_description(Some("always_off"), Some("0.3")),
            "always_off"
        );
        assert_eq!(
            sampler_description(Some("parentbased_traceidratio"), Some("0.1")),
            "parentbased_traceidratio 0.1"
        );
        assert!(sampler_description(Some("traceidratio"), Some("half")).contains("WARNING"));
        assert!(sampler_description(Some("sometimes"), None).contains("WARNING: unknown"));
    }

    #[test]
    fn traceresponse_names_recorded_spans_only() {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        use opentelemetry_sdk::trace::Sampler;
        let span_in = |sampler: Sampler| {
            let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
            let tracer = provider.tracer("test");
            Context::new().with_span(tracer.start("request"))
        };
        let cx = span_in(Sampler::AlwaysOn);
        let sc = cx.span().span_context().clone();
        assert_eq!(
            traceresponse(&cx),
            Some(format!("00-{}-{}-01", sc.trace_id(), sc.span_id()))
        );
        assert_eq!(traceresponse(&span_in(Sampler::AlwaysOff)), None);
        // Tracing off: the no-op tracer passes a sampled parent through, but records nothing.
        let parent = span_in(Sampler::AlwaysOn);
        let noop = opentelemetry::trace::noop::NoopTracer::new();
        let child = parent.with_span(noop.start_with_context("request", &parent));
        assert!(child.span().span_context().is_sampled());
        assert_eq!(traceresponse(&child), None);
        assert_eq!(traceresponse(&Context::new()), None);
    }
}
