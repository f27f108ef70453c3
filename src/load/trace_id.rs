//! The trace a response says it was recorded in. A service that returns the W3C Trace Context
//! Level 2 `traceresponse` header (`00-<trace-id>-<span-id>-<flags>`, as the demo does for a
//! sampled request) or a bare 32-digit ID (`x-trace-id` in some stacks) lets the driver link
//! its slowest requests to their traces.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The header the driver reads a trace ID from unless told otherwise.
pub const DEFAULT_TRACE_HEADER: &str = "traceresponse";

/// A W3C trace ID: 16 bytes, never all zero; shown as 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// The trace ID in a header value: the second field of a `traceresponse` (or `traceparent`)
    /// value, or the whole value when it is 32 hex digits. `None` for anything else, and for
    /// the all-zero ID the spec calls invalid.
    pub fn from_header(value: &[u8]) -> Option<TraceId> {
        let value = value.trim_ascii();
        let hex = match value.len() {
            32 => value,
            55 if value[2] == b'-' && value[35] == b'-' && value[52] == b'-' => &value[3..35],
            _ => return None,
        };
        let mut id = [0u8; 16];
        for (byte, pair) in id.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        (id != [0; 16]).then_some(TraceId(id))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for TraceId {
    type Err = String;

    fn from_str(s: &str) -> Result<TraceId, String> {
        (s.len() == 32)
            .then(|| TraceId::from_header(s.as_bytes()))
            .flatten()
            .ok_or_else(|| format!("expected a trace ID of 32 hex digits, not all zero; got {s:?}"))
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TraceId, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn reads_traceresponse_and_bare_ids() {
        for value in [
            format!("00-{ID}-00f067aa0ba902b7-01"),
            format!(" {ID} "),
            ID.to_uppercase(),
        ] {
            let id = TraceId::from_header(value.as_bytes()).expect(&value);
            assert_eq!(id.to_string(), ID, "{value}");
        }
        assert_eq!(ID.parse::<TraceId>().unwrap().to_string(), ID);
    }

    #[test]
    fn refuses_what_is_not_a_trace_id() {
        for value in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", // 31 digits
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6",
        ] {
            assert_eq!(TraceId::from_header(value.as_bytes()), None, "{value}");
        }
        assert!("x".parse::<TraceId>().is_err());
    }

    #[test]
    fn round_trips_through_json_as_hex() {
        let id: TraceId = ID.parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{ID}\""));
        assert_eq!(serde_json::from_str::<TraceId>(&json).unwrap(), id);
    }
}
