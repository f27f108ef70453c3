//! The demo stack tracebench measures out of the box: `demo-gateway` (HTTP) calls `demo-auth`
//! (gRPC), both instrumented with OpenTelemetry and controlled only by the standard `OTEL_*`
//! environment. The generated gRPC code lives here so tracebench's gRPC driver uses the same types.
//!
//! Layout: [`gateway`] and [`auth`] are the two servers (each binary in `src/bin/` only parses
//! its flags and calls `serve`), [`users`] the auth service's store, [`telemetry`] the
//! OpenTelemetry set-up and context propagation they share, [`shutdown`] the stop signal.

pub mod auth;
pub mod gateway;
pub mod shutdown;
pub mod telemetry;
pub mod users;

/// Generated from `proto/user.proto`.
pub mod proto {
    tonic::include_proto!("user");
}
