//! Tempo's HTTP API response documents, as serde types shared by the sink (which writes them) and
//! the Tempo client (which reads them), so both sides agree on one shape.
//!
//! Shapes follow Tempo's protobuf messages as its JSON marshaller writes them
//! (`pkg/tempopb/tempo.proto`, grafana/tempo v2.6.1 to v3.0.x; see `tests/tempo/double`):
//! 64-bit integers are JSON strings and 32-bit ones numbers (both read leniently), fields at
//! their zero value are left out, ids in `/api/traces` are base64 (read leniently: hex too), and
//! trace ids in search results have their leading zeros trimmed.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `GET /api/search` answers (`SearchResponse`): `"traces":[]` when nothing matched (the
/// frontend's combiner hands the marshaller an empty, non-nil list); a missing key reads the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    #[serde(default)]
    pub traces: Vec<TraceSearchMetadata>,
    #[serde(default)]
    pub metrics: SearchMetrics,
}

/// One trace in a search answer (`TraceSearchMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSearchMetadata {
    /// Hex, leading zeros trimmed as Tempo does: use [`pad_trace_id`] before comparing.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub root_service_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub root_trace_name: String,
    #[serde(default, with = "u64_string", skip_serializing_if = "is_zero")]
    pub start_time_unix_nano: u64,
    /// A uint32: a number, left out when zero (a sub-millisecond trace).
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub duration_ms: u64,
    /// Deprecated by Tempo for `spanSets`, still written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_set: Option<SpanSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub span_sets: Vec<SpanSet>,
    /// Spans (and errors) per service in the whole trace; `None` when the server left it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_stats: Option<BTreeMap<String, ServiceStats>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub span_count: u64,
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub error_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<SpanSetSpan>,
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub matched: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanSetSpan {
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, with = "u64_string", skip_serializing_if = "is_zero")]
    pub start_time_unix_nano: u64,
    #[serde(default, with = "u64_string", skip_serializing_if = "is_zero")]
    pub duration_nanos: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

/// `SearchMetrics`: uint32 fields are numbers, uint64 ones strings, zeros left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMetrics {
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub inspected_traces: u64,
    #[serde(default, with = "u64_string", skip_serializing_if = "is_zero")]
    pub inspected_bytes: u64,
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub completed_jobs: u64,
    #[serde(default, with = "number", skip_serializing_if = "is_zero")]
    pub total_jobs: u64,
}

/// What `GET /api/traces/<id>` answers: OTLP JSON resource spans under `batches`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceResponse {
    #[serde(default)]
    pub batches: Vec<Batch>,
}

impl TraceResponse {
    /// The first of `services` with no span in this trace (a trace with one of each is complete).
    pub fn missing_service<'a>(&self, services: &'a [String]) -> Option<&'a str> {
        services.iter().map(String::as_str).find(|s| {
            !self.batches.iter().any(|b| {
                b.resource.service_name() == Some(*s)
                    && b.scope_spans.iter().any(|ss| !ss.spans.is_empty())
            })
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    #[serde(default)]
    pub resource: Resource,
    /// Tempo before 2.0 wrote `instrumentationLibrarySpans`.
    #[serde(default, alias = "instrumentationLibrarySpans")]
    pub scope_spans: Vec<ScopeSpans>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(default)]
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeSpans {
    #[serde(
        default,
        alias = "instrumentationLibrary",
        skip_serializing_if = "Option::is_none"
    )]
    pub scope: Option<Scope>,
    #[serde(default)]
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// A span as Tempo writes it: ids base64, times as strings, kind as the enum's name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    #[serde(default)]
    pub name: String,
    /// `SPAN_KIND_SERVER` and so on; some writers use the enum's number.
    #[serde(default)]
    pub kind: serde_json::Value,
    #[serde(default, with = "u64_string")]
    pub start_time_unix_nano: u64,
    #[serde(default, with = "u64_string")]
    pub end_time_unix_nano: u64,
    #[serde(default)]
    pub attributes: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub status: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: AnyValue,
}

/// OTLP JSON `AnyValue`; arrays and maps are kept as raw JSON (tracebench never reads them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bool_value: Option<bool>,
    /// A string in proto3 JSON; numbers accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvlist_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_value: Option<String>,
}

/// What `GET /api/metrics/query_range` answers (TraceQL metrics, `QueryRangeResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsResponse {
    #[serde(default)]
    pub series: Vec<TimeSeries>,
    /// `PARTIAL` when the server cut the answer short (absent when complete).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    #[serde(default)]
    pub labels: Vec<KeyValue>,
    #[serde(default)]
    pub samples: Vec<Sample>,
}

/// One sample: an int64 time as a string; a zero value is left out, NaN written `"NaN"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    #[serde(default, with = "u64_string")]
    pub timestamp_ms: u64,
    #[serde(
        default,
        deserialize_with = "lenient_f64",
        skip_serializing_if = "is_zero_f64"
    )]
    pub value: f64,
}

/// What `GET /api/status/buildinfo` answers (plain JSON, every key present).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub revision: String,
}

impl Resource {
    /// The `service.name` attribute, if any.
    pub fn service_name(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.string_value.as_deref())
    }
}

impl AnyValue {
    pub fn string(s: impl Into<String>) -> AnyValue {
        AnyValue {
            string_value: Some(s.into()),
            ..AnyValue::default()
        }
    }
}

/// A trace id as 32 lowercase hex digits: search results trim leading zeros, so pad them back.
pub fn pad_trace_id(id: &str) -> String {
    format!("{:0>32}", id.to_ascii_lowercase())
}

/// Decodes a trace or span id written as hex (OTLP JSON, search results) or base64 (Tempo's
/// `/api/traces`): lengths tell them apart (16 bytes: 32 hex or 24 base64; 8 bytes: 16 or 12).
pub fn decode_id(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    if s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) && matches!(s.len(), 16 | 32) {
        return hex_decode(s);
    }
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

pub fn base64_id(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// A double as proto3 JSON writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Num(f64),
        Str(String),
    }
    match Either::deserialize(d)? {
        Either::Num(v) => Ok(v),
        Either::Str(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// proto3 JSON writes 64-bit integers as strings; read either a string or a number.
mod u64_string {
    use super::*;

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::lenient_u64(d)
    }
}

/// proto3 JSON writes 32-bit integers as numbers; read either a number or a string.
mod number {
    use super::*;

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::lenient_u64(d)
    }
}

/// A non-negative integer written as a number or as a string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Num(u64),
        Float(f64),
        Str(String),
    }
    match Either::deserialize(d)? {
        Either::Num(n) => Ok(n),
        Either::Float(f) if f >= 0.0 && f.fract() == 0.0 => Ok(f as u64),
        Either::Float(f) => Err(serde::de::Error::custom(format!(
            "expected a non-negative integer, got {f}"
        ))),
        Either::Str(s) => s.parse().map_err(|_| {
            serde::de::Error::custom(format!("expected an integer in a string, got {s:?}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_hex_and_base64() {
        let id: Vec<u8> = (1..=16).collect();
        assert_eq!(decode_id(&hex_encode(&id)), Some(id.clone()));
        assert_eq!(decode_id(&base64_id(&id)), Some(id.clone()));
        assert_eq!(decode_id(&base64_id(&id[..8])), Some(id[..8].to_vec()));
        assert_eq!(hex_decode("zz"), None);
    }

    #[test]
    fn trimmed_search_ids_are_padded() {
        assert_eq!(
            pad_trace_id("1F5594FF52B1F917F4DECA8E38243A"),
            "001f5594ff52b1f917f4deca8e38243a"
        );
    }

    #[test]
    fn sixty_four_bit_ints_are_strings_out_and_lenient_in() {
        let s: Sample = serde_json::from_str(r#"{"timestampMs":1700000000000,"value":3}"#).unwrap();
        assert_eq!(s.timestamp_ms, 1_700_000_000_000);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""timestampMs":"1700000000000""#), "{json}");
        assert!(serde_json::from_str::<Sample>(r#"{"timestampMs":"x"}"#).is_err());
        let zero: Sample = serde_json::from_str(r#"{"timestampMs":"5"}"#).unwrap();
        assert_eq!(zero.value, 0.0);
        let nan: Sample = serde_json::from_str(r#"{"timestampMs":"5","value":"NaN"}"#).unwrap();
        assert!(nan.value.is_nan());
        let stats: TraceSearchMetadata = serde_json::from_str(
            r#"{"traceID":"ab","durationMs":3,"serviceStats":{"a":{"spanCount":2}}}"#,
        )
        .unwrap();
        assert_eq!(stats.service_stats.unwrap()["a"].span_count, 2);
        let out = serde_json::to_value(TraceSearchMetadata {
            trace_id: "ab".into(),
            start_time_unix_nano: 7,
            duration_ms: 3,
            ..TraceSearchMetadata::default()
        })
        .unwrap();
        assert_eq!(out["startTimeUnixNano"], "7");
        assert_eq!(out["durationMs"], 3);
    }
}
