//! `demo-auth`: the gRPC hop behind the gateway. Serves `user.UserService/Register` over the
//! [`UserStore`] and the standard gRPC health service, and makes one server span per call,
//! continuing the caller's trace from the `traceparent` metadata.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceContextExt as _, Tracer as _};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

use crate::proto::user_service_server::{UserService, UserServiceServer};
use crate::proto::{RegisterRequest, RegisterResponse};
use crate::telemetry;
use crate::users::{RegisterError, UserStore};

/// The fully qualified gRPC service name, as in span names and `rpc.service`.
pub const SERVICE: &str = "user.UserService";
/// The span name of a `Register` call, on both ends: `{rpc.service}/{rpc.method}`.
pub const REGISTER_SPAN: &str = "user.UserService/Register";

struct Auth {
    store: UserStore,
    tracer: opentelemetry::global::BoxedTracer,
    /// Reject every n-th call as invalid (0: never): a known share of 400s whose traces are
    /// whole (the rejection happens here, after the gateway called).
    reject_every: u64,
    calls: AtomicU64,
}

#[tonic::async_trait]
impl UserService for Auth {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let parent = telemetry::extract_from_metadata(request.metadata());
        let span = self
            .tracer
            .span_builder(REGISTER_SPAN)
            .with_kind(SpanKind::Server)
            .with_attributes(register_rpc_attributes())
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);

        let user = request.into_inner();
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let result = if self.reject_every > 0 && n % self.reject_every == 0 {
            Err(Status::invalid_argument("injected rejection"))
        } else {
            self.store
                .register(&user.username, &user.email, &user.password)
                .map(|user_id| Response::new(RegisterResponse { user_id }))
                .map_err(|err| match err {
                    RegisterError::Invalid(message) => Status::invalid_argument(message),
                    RegisterError::Duplicate(_) => Status::already_exists(err.to_string()),
                })
        };

        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        let traced = telemetry::traceresponse(&cx).and_then(|v| v.parse().ok());
        end_rpc_span(&cx, code, SpanKind::Server);
        // A recorded call names its trace in the response's metadata, as the gateway does in
        // its HTTP headers; a failed call carries it in the status's metadata.
        match result {
            Ok(mut response) => {
                if let Some(value) = traced {
                    response
                        .metadata_mut()
                        .insert(telemetry::TRACERESPONSE, value);
                }
                Ok(response)
            }
            Err(mut status) => {
                if let Some(value) = traced {
                    status
                        .metadata_mut()
                        .insert(telemetry::TRACERESPONSE, value);
                }
                Err(status)
            }
        }
    }
}

/// The attributes both ends of a `Register` call put on their span.
pub fn register_rpc_attributes() -> [KeyValue; 3] {
    [
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", SERVICE),
        KeyValue::new("rpc.method", "Register"),
    ]
}

/// Records the gRPC status on the context's span and ends it. As the semantic conventions say, a
/// client marks every non-OK status an error; a server only those that are its own fault, not
/// the caller's bad input or duplicates.
pub fn end_rpc_span(cx: &opentelemetry::Context, code: Code, kind: SpanKind) {
    let span = cx.span();
    span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
    let server_fault = matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    );
    let is_error = match kind {
        SpanKind::Server => server_fault,
        _ => code != Code::Ok,
    };
    if is_error {
        span.set_status(SpanStatus::error(format!("{code:?}")));
    }
    span.end();
}

/// Serves until `shutdown` completes, then lets in-flight calls finish.
/// `reject_every`: answer every n-th call `INVALID_ARGUMENT` (0: never).
pub async fn serve(
    listener: TcpListener,
    max_users: usize,
    reject_every: u64,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let auth = Auth {
        store: UserStore::new(max_users),
        tracer: telemetry::tracer("demo-auth"),
        reject_every,
        calls: AtomicU64::new(0),
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<UserServiceServer<Auth>>().await;
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(UserServiceServer::from_arc(Arc::new(auth)))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await?;
    Ok(())
}
