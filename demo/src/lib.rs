//! The demo stack tracebench measures out of the box: `demo-gateway` (HTTP) calls `demo-auth`
//! (gRPC), both instrumented with OpenTelemetry and controlled only by the standard `OTEL_*`
//! environment. The generated gRPC code lives here so tracebench's gRPC driver uses the same types.

/// Generated from `proto/user.proto`.
pub mod proto {
    tonic::include_proto!("user");
}
