//! The demo stack tracebench measures out of the box: `demo-gateway` (HTTP) calls `demo-auth`
//! (gRPC), both instrumented with OpenTelemetry and controlled only by the standard `OTEL_*`
//! environment. The gRPC types come from the `demo-proto` crate, which tracebench's gRPC driver
//! uses too.
//!
//! Layout: [`gateway`] and [`auth`] are the two servers (each binary in `src/bin/` only parses
//! its flags and calls `serve`), [`users`] the auth service's store, [`telemetry`] the
//! OpenTelemetry set-up and context propagation they share, [`shutdown`] the stop signal.

pub mod auth;
pub mod gateway;
pub mod shutdown;
pub mod telemetry;
pub mod users;

/// The gRPC types, from `proto/user.proto` (the `demo-proto` crate).
pub use demo_proto as proto;
