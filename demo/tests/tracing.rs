//! The demo's spans, as a real OTLP/gRPC receiver sees them: one trace per register request
//! across both services, linked parent to child; none when tracing is off; the ratio sampler
//! samples its share; an incoming `traceparent` is continued.
//!
//! The receiver is opentelemetry-proto's `TraceServiceServer` on a free loopback port. The
//! services are stopped with SIGTERM before counting: they flush their span queues on shutdown,
//! so the counts are exact, with no waiting for a batch timer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use testkit::demo::DemoStack;

const REGISTER: &str = "/api/auth/register";

/// One received span with the `service.name` of the resource it came under.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

/// Keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default();
            let service = string_attribute(&attributes, "service.name").unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans.into_iter().map(|span| Received {
                    service: service.clone(),
                    span,
                }));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A receiver serving on a free loopback port for as long as the runtime lives.
struct Collector {
    _runtime: tokio::runtime::Runtime,
    receiver: Receiver,
    addr: SocketAddr,
}

impl Collector {
    fn start() -> Collector {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let receiver = Receiver::default();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(receiver.clone());
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        Collector {
            _runtime: runtime,
            receiver,
            addr,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Received> {
        self.receiver.spans.lock().unwrap().clone()
    }
}

/// Starts the stack exporting to `collector` with the given extra environment.
fn start(collector: &Collector, env: &[(&str, &str)]) -> DemoStack {
    let endpoint = collector.endpoint();
    let mut full_env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    full_env.extend_from_slice(env);
    DemoStack::start_with(
        Path::new(env!("CARGO_BIN_EXE_demo-auth")),
        Path::new(env!("CARGO_BIN_EXE_demo-gateway")),
        &full_env,
    )
}

/// Sends `count` registrations with unique names; each must succeed.
fn register_many(stack: &DemoStack, prefix: &str, count: usize) {
    for i in 0..count {
        let body = format!(
            r#"{{"username":"{prefix}{i}","email":"u{i}@example.com","password":"password1"}}"#
        );
        let (status, reply) = stack.post(REGISTER, &[], &body).unwrap();
        assert_eq!(status, 200, "request {i}: {reply}");
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(value) => Some(value.clone()),
            _ => None,
        }
    })
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::IntValue(value) => Some(*value),
            _ => None,
        }
    })
}

fn by_trace(spans: Vec<Received>) -> BTreeMap<Vec<u8>, Vec<Received>> {
    let mut traces: BTreeMap<Vec<u8>, Vec<Received>> = BTreeMap::new();
    for received in spans {
        traces
            .entry(received.span.trace_id.clone())
            .or_default()
            .push(received);
    }
    traces
}

/// Checks one trace is exactly: gateway server span -> gateway client span -> auth server span,
/// with the checklist's names and attributes. Returns the gateway server span.
fn assert_linked_trace(trace: &[Received]) -> Span {
    assert_eq!(trace.len(), 3, "three spans per trace: {trace:#?}");
    let find = |service: &str, kind: SpanKind| {
        trace
            .iter()
            .find(|r| r.service == service && r.span.kind == kind as i32)
            .unwrap_or_else(|| panic!("no {kind:?} span from {service}: {trace:#?}"))
            .span
            .clone()
    };
    let server = find("api-gateway", SpanKind::Server);
    let client = find("api-gateway", SpanKind::Client);
    let auth = find("user-auth-service", SpanKind::Server);

    assert_eq!(server.name, "POST /api/auth/register");
    assert_eq!(
        string_attribute(&server.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        string_attribute(&server.attributes, "url.path").as_deref(),
        Some(REGISTER)
    );
    assert_eq!(
        string_attribute(&server.attributes, "http.route").as_deref(),
        Some(REGISTER)
    );
    assert_eq!(
        int_attribute(&server.attributes, "http.response.status_code"),
        Some(200)
    );

    assert_eq!(
        client.parent_span_id, server.span_id,
        "client span is the server span's child"
    );
    assert_eq!(
        string_attribute(&client.attributes, "rpc.system").as_deref(),
        Some("grpc")
    );

    assert_eq!(auth.name, "user.UserService/Register");
    assert_eq!(
        auth.parent_span_id, client.span_id,
        "auth span is the client span's child"
    );
    for (key, want) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "user.UserService"),
        ("rpc.method", "Register"),
    ] {
        assert_eq!(
            string_attribute(&auth.attributes, key).as_deref(),
            Some(want),
            "{key}"
        );
    }
    assert_eq!(
        int_attribute(&auth.attributes, "rpc.grpc.status_code"),
        Some(0)
    );
    server
}

#[test]
fn always_on_gives_one_linked_trace_per_request() {
    const REQUESTS: usize = 25;
    let collector = Collector::start();
    let stack = start(&collector, &[("OTEL_TRACES_SAMPLER", "always_on")]);
    register_many(&stack, "on", REQUESTS);
    stack.stop();

    let traces = by_trace(collector.spans());
    assert_eq!(traces.len(), REQUESTS, "one trace per request");
    for trace in traces.values() {
        let root = assert_linked_trace(trace);
        assert!(
            root.parent_span_id.is_empty(),
            "the gateway server span is the root"
        );
    }
}

#[test]
fn always_off_and_sdk_disabled_export_nothing() {
    const REQUESTS: usize = 20;
    for env in [
        vec![("OTEL_TRACES_SAMPLER", "always_off")],
        // The SDK ignores OTEL_SDK_DISABLED; the demo must honour it even with always_on.
        vec![
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    ] {
        let collector = Collector::start();
        let stack = start(&collector, &env);
        register_many(&stack, "off", REQUESTS);
        stack.stop();
        let spans = collector.spans();
        assert!(spans.is_empty(), "{env:?}: {} spans arrived", spans.len());
    }
}

#[test]
fn traceidratio_samples_a_binomial_share_of_whole_traces() {
    const REQUESTS: usize = 200;
    const RATIO: f64 = 0.5;
    let collector = Collector::start();
    let stack = start(
        &collector,
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ],
    );
    register_many(&stack, "ratio", REQUESTS);
    stack.stop();

    let traces = by_trace(collector.spans());
    // Trace IDs are random, so the sampled count is Binomial(REQUESTS, RATIO); the normal
    // approximation's two-sided 99.9% interval is mean +- 3.29 sd (here 100 +- 23.3). A correct
    // sampler falls outside it once in a thousand runs.
    let mean = REQUESTS as f64 * RATIO;
    let half_width = 3.29 * (REQUESTS as f64 * RATIO * (1.0 - RATIO)).sqrt();
    let sampled = traces.len() as f64;
    assert!(
        (mean - half_width..=mean + half_width).contains(&sampled),
        "{sampled} traces sampled of {REQUESTS}, expected {mean} +- {half_width:.1}"
    );
    // Both services decide on the same trace ID, so a sampled trace is always whole.
    for trace in traces.values() {
        assert_linked_trace(trace);
    }
}

#[test]
fn incoming_traceparent_is_continued() {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_ID: &str = "00f067aa0ba902b7";
    let collector = Collector::start();
    // Parent-based, never sampling a root: only the sampled traceparent can produce spans.
    let stack = start(
        &collector,
        &[("OTEL_TRACES_SAMPLER", "parentbased_always_off")],
    );
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let body = r#"{"username":"probe","email":"probe@example.com","password":"password1"}"#;
    let (status, reply) = stack
        .post(REGISTER, &[("traceparent", &traceparent)], body)
        .unwrap();
    assert_eq!(status, 200, "{reply}");
    register_many(&stack, "unsampled", 5);
    stack.stop();

    let traces = by_trace(collector.spans());
    assert_eq!(traces.len(), 1, "only the probe's trace: {traces:#?}");
    let (trace_id, trace) = traces.into_iter().next().unwrap();
    assert_eq!(hex(&trace_id), TRACE_ID, "the incoming trace ID is kept");
    let server = assert_linked_trace(&trace);
    assert_eq!(
        hex(&server.parent_span_id),
        PARENT_ID,
        "the caller's span is the parent"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
