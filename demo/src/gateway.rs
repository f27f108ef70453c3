//! `demo-gateway`: the HTTP front of the demo stack. `POST /api/auth/register` turns a JSON body
//! into a gRPC `Register` call to demo-auth and maps its status to HTTP; `GET /health` reports
//! whether auth answers its gRPC health check, so "ready" means the whole stack is ready.
//!
//! Each register request is one trace: a server span (continuing an incoming `traceparent`, as
//! probe requests carry one) and a client span for the gRPC call, whose context travels to auth
//! in the call's metadata. `/health` is not traced, so trace counts equal register requests. A
//! recorded request's response names its trace in a `traceresponse` header (W3C Trace Context
//! Level 2), so the driver can link its slowest requests to their traces.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceContextExt as _, Tracer};
use opentelemetry::{Context, KeyValue};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::auth;
use crate::proto::RegisterRequest;
use crate::proto::user_service_client::UserServiceClient;
use crate::telemetry;

/// The register route, as in `http.route`.
pub const REGISTER_ROUTE: &str = "/api/auth/register";
/// The server span's name: method and route, as the HTTP semantic conventions name it. A
/// constant, so naming a span allocates nothing.
pub const REGISTER_SPAN: &str = "POST /api/auth/register";
/// How long a health answer is reused: the driver's readiness polling must not load auth.
const HEALTH_CACHE: Duration = Duration::from_millis(250);
/// Bound on one health check against auth.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Bounds on a call to auth: a down auth service must give a quick 502, not a hung request.
const AUTH_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const AUTH_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long in-flight requests may run on after the stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the gateway needs besides its listener.
pub struct Config {
    /// demo-auth's gRPC URL, e.g. `http://127.0.0.1:50051`.
    pub auth_url: String,
    /// Fixed extra delay per register request, to inject a known latency regression.
    pub extra_delay: Duration,
    /// Busy-wait per register request, to inject a known latency and CPU cost below the timer's
    /// millisecond.
    pub spin: Duration,
    /// Answer every n-th register request with 500 (0: never), to inject a known error rate.
    pub fail_every: u64,
}

#[derive(serde::Deserialize)]
struct RegisterBody {
    username: String,
    email: String,
    password: String,
}

struct Gateway {
    users: UserServiceClient<Channel>,
    health: HealthClient<Channel>,
    extra_delay: Duration,
    spin: Duration,
    fail_every: u64,
    /// Register requests seen, for `fail_every`.
    registers: AtomicU64,
    tracer: BoxedTracer,
    /// The last health answer and when it was obtained.
    health_cache: Mutex<Option<(Instant, bool)>>,
}

/// Serves until `shutdown` completes, then lets in-flight requests finish (bounded).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(config.auth_url.clone())
        .with_context(|| {
            format!(
                "invalid auth URL {:?}, expected e.g. http://127.0.0.1:50051",
                config.auth_url
            )
        })?
        .connect_timeout(AUTH_CONNECT_TIMEOUT)
        .timeout(AUTH_CALL_TIMEOUT)
        .connect_lazy();
    let gateway = Arc::new(Gateway {
        users: UserServiceClient::new(channel.clone()),
        health: HealthClient::new(channel),
        extra_delay: config.extra_delay,
        spin: config.spin,
        fail_every: config.fail_every,
        registers: AtomicU64::new(0),
        tracer: telemetry::tracer("demo-gateway"),
        health_cache: Mutex::new(None),
    });

    let connections = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small request/response exchanges: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        let service = hyper::service::service_fn(move |request| {
            let gateway = Arc::clone(&gateway);
            async move { Ok::<_, Infallible>(gateway.handle(request).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up mid-request is its own business.
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.shutdown())
        .await
        .is_err()
    {
        eprintln!("some connections were still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

impl Gateway {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/health") => self.health().await,
            (&Method::POST, REGISTER_ROUTE) => self.traced_register(request).await,
            (_, REGISTER_ROUTE) => error(StatusCode::METHOD_NOT_ALLOWED, "use POST"),
            (_, path) => error(StatusCode::NOT_FOUND, &format!("no route for {path}")),
        }
    }

    async fn health(&self) -> Response<Full<Bytes>> {
        if self.auth_healthy().await {
            json(StatusCode::OK, serde_json::json!({"status": "ok"}))
        } else {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth service is not serving",
            )
        }
    }

    async fn auth_healthy(&self) -> bool {
        if let Some((at, healthy)) = *self.lock_health_cache()
            && at.elapsed() < HEALTH_CACHE
        {
            return healthy;
        }
        let mut health = self.health.clone();
        let check = health.check(HealthCheckRequest {
            service: String::new(),
        });
        let healthy = matches!(
            tokio::time::timeout(HEALTH_TIMEOUT, check).await,
            Ok(Ok(answer)) if answer.get_ref().status() == ServingStatus::Serving
        );
        *self.lock_health_cache() = Some((Instant::now(), healthy));
        healthy
    }

    fn lock_health_cache(&self) -> std::sync::MutexGuard<'_, Option<(Instant, bool)>> {
        self.health_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The register handler inside its server span.
    async fn traced_register(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let parent = telemetry::extract_from_headers(request.headers());
        let cx = start_server_span(&self.tracer, &parent, request.uri().path());
        let mut response = self.register(request, &cx).await;
        if let Some(value) =
            telemetry::traceresponse(&cx).and_then(|v| header::HeaderValue::from_str(&v).ok())
        {
            response
                .headers_mut()
                .insert(telemetry::TRACERESPONSE, value);
        }
        end_server_span(&cx, response.status());
        response
    }

    async fn register(&self, request: Request<Incoming>, cx: &Context) -> Response<Full<Bytes>> {
        if !self.extra_delay.is_zero() {
            tokio::time::sleep(self.extra_delay).await;
        }
        spin(self.spin);
        let n = self.registers.fetch_add(1, Ordering::Relaxed) + 1;
        if self.fail_every > 0 && n % self.fail_every == 0 {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
        }
        let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the body: {err}"),
                );
            }
        };
        let body: RegisterBody = match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected JSON {{\"username\",\"email\",\"password\"}}: {err}"),
                );
            }
        };
        match self.call_auth(body, cx).await {
            Ok(user_id) => json(StatusCode::OK, serde_json::json!({ "user_id": user_id })),
            Err(status) => error(http_status(status.code()), status.message()),
        }
    }

    /// The gRPC call to auth inside its client span, whose context goes along as `traceparent`.
    async fn call_auth(&self, body: RegisterBody, cx: &Context) -> Result<String, tonic::Status> {
        let span = self
            .tracer
            .span_builder(auth::REGISTER_SPAN)
            .with_kind(SpanKind::Client)
            .with_attributes(auth::register_rpc_attributes())
            .start_with_context(&self.tracer, cx);
        let client_cx = cx.with_span(span);
        let mut request = tonic::Request::new(RegisterRequest {
            username: body.username,
            email: body.email,
            password: body.password,
        });
        telemetry::inject_into_metadata(&client_cx, request.metadata_mut());
        let result = self.users.clone().register(request).await;
        let code = result
            .as_ref()
            .map_or_else(tonic::Status::code, |_| tonic::Code::Ok);
        auth::end_rpc_span(&client_cx, code, SpanKind::Client);
        result.map(|response| response.into_inner().user_id)
    }
}

/// Starts the server span of a register request as a child of `parent` (an incoming
/// `traceparent`, or none) and returns the context carrying it.
pub fn start_server_span<T>(tracer: &T, parent: &Context, path: &str) -> Context
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
{
    let span = tracer
        .span_builder(REGISTER_SPAN)
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.path", path.to_owned()),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.route", REGISTER_ROUTE),
        ])
        .start_with_context(tracer, parent);
    parent.with_span(span)
}

/// Records the response status on the server span and ends it; a 5xx marks the span an error.
pub fn end_server_span(cx: &Context, status: StatusCode) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        span.set_status(SpanStatus::error(status.to_string()));
    }
    span.end();
}

/// HTTP status for auth's gRPC status: its refusals are the client's fault, anything else is a
/// bad gateway (auth down, timed out, or failing).
fn http_status(code: tonic::Code) -> StatusCode {
    match code {
        tonic::Code::Ok => StatusCode::OK,
        tonic::Code::AlreadyExists => StatusCode::CONFLICT,
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({ "error": message }))
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Keeps this thread busy for `length` of the monotonic clock: a timer would sleep at least its
/// millisecond, and a sleep costs no CPU.
fn spin(length: Duration) {
    let start = Instant::now();
    while start.elapsed() < length {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spin takes its length of wall time; of this thread's CPU time too, unless the
    /// thread was preempted meanwhile, so at least one of 20 tries must show it all.
    #[test]
    fn a_spin_takes_its_length_of_wall_and_cpu_time() {
        let length = Duration::from_micros(100);
        let mut most_cpu = Duration::ZERO;
        for _ in 0..20 {
            let (wall, cpu) = (Instant::now(), testkit::helper::thread_cpu());
            spin(length);
            let (wall, cpu) = (wall.elapsed(), testkit::helper::thread_cpu() - cpu);
            assert!(wall >= length, "{wall:?}");
            most_cpu = most_cpu.max(cpu);
        }
        assert!(most_cpu >= length, "{most_cpu:?} of CPU at most");
    }

    #[test]
    fn span_name_is_method_and_route() {
        assert_eq!(REGISTER_SPAN, format!("POST {REGISTER_ROUTE}"));
    }

    #[test]
    fn auth_refusals_are_client_errors_and_the_rest_bad_gateway() {
        assert_eq!(
            http_status(tonic::Code::AlreadyExists),
            StatusCode::CONFLICT
        );
        assert_eq!(
            http_status(tonic::Code::InvalidArgument),
            StatusCode::BAD_REQUEST
        );
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Internal,
            tonic::Code::Unknown,
        ] {
            assert_eq!(http_status(code), StatusCode::BAD_GATEWAY, "{code:?}");
        }
    }
}
