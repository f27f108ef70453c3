//! Traces: the built-in OTLP sink, the Tempo client, counting and verification.
//!
//! - [`sink`] receives OTLP (gRPC and HTTP) into a bounded [`store`] and answers Tempo's query
//!   API shapes ([`model`]), so one [`tempo`] client works against a real Tempo and the sink.
//! - [`otlp`] decodes OTLP/HTTP bodies; [`count`] turns the client's answers into traces per
//!   minute; [`verify`] checks probe requests come back as whole, linked traces.

pub mod count;
pub mod model;
pub mod otlp;
pub mod sink;
pub mod store;
pub mod tempo;
pub mod verify;
