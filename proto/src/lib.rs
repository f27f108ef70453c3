//! The demo stack's gRPC types, generated from `user.proto`: a crate of their own so tracebench's
//! gRPC driver depends on the types alone, not on the demo's servers and OpenTelemetry SDK.

tonic::include_proto!("user");
