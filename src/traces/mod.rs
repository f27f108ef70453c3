//! Traces, the client side: the Tempo client, counting and verification. The server side, the
//! built-in sink, is [`crate::sink`]; both speak Tempo's JSON ([`model`]).
//!
//! - [`tempo`] asks a real Tempo or the sink; [`count`] turns its answers into traces per
//!   minute; [`verify`] checks probe requests come back as whole, linked traces.

pub mod count;
pub mod model;
pub mod tempo;
pub mod verify;
