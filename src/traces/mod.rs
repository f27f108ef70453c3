//! Traces, the client side: the Tempo client, counting and verification. The server side, the
//! built-in sink, is [`crate::sink`]; both speak Tempo's JSON ([`model`]).
//!
//! - [`tempo`] asks a real Tempo or the sink; [`count`] turns its answers into traces per
//!   minute; [`verify`] checks probe requests come back as whole, linked traces.
//! - [`breakdown`] splits a slow request's latency over the spans of its trace; [`link`] makes
//!   the report's links to a trace.

pub mod breakdown;
pub mod count;
pub mod link;
pub mod model;
pub mod tempo;
pub mod verify;
