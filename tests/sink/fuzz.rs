//! The sink's decoders under abuse: a seeded mutational fuzzer. Valid export bodies (protobuf and
//! OTLP/JSON, plain and gzip) are bit-flipped, overwritten, cut, spliced and padded, and every
//! result goes through the path an HTTP export takes (decompress, decode, store, search, trace
//! lookup). Any panic fails the test; errors are the expected outcome for most cases.
//!
//! `TRACEBENCH_FUZZ_CASES` sets the number of cases (default 10,000, about 10 s in a debug
//! build); `TRACEBENCH_FUZZ_SEED` the seed. The README gives the largest run made.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tracebench::sink::otlp::{Encoding, decode, decompress};
use tracebench::sink::store::{SearchQuery, SpanStore};

use testkit::sink::root_spans;

/// The largest body the fuzzed path accepts after decompression.
const LIMIT: usize = 1 << 20;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A valid request with `spans` spans carrying nested attributes, children and odd values.
fn seed_request(rng: &mut StdRng, spans: usize) -> ExportTraceServiceRequest {
    let traces: Vec<(u128, u64)> = (0..spans)
        .map(|_| (rng.random(), rng.random::<u64>() >> 2))
        .collect();
    let mut request = root_spans("svc", &traces);
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.attributes = vec![
            kv("s", any_value::Value::StringValue("value é ✓".into())),
            kv("i", any_value::Value::IntValue(i64::MIN)),
            kv("d", any_value::Value::DoubleValue(-0.0)),
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::BytesValue(vec![0, 255])),
                    }],
                }),
            ),
        ];
        if rng.random_bool(0.5) {
            span.parent_span_id = vec![7; 8];
        }
    }
    request.resource_spans[0].scope_spans[0].spans.push(Span {
        trace_id: vec![9; 16],
        span_id: vec![3; 8],
        ..Span::default()
    });
    request
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One mutation of `body`, with `other` for splicing.
fn mutate(rng: &mut StdRng, body: &[u8], other: &[u8]) -> Vec<u8> {
    const STRUCTURE: &[u8] = b"{}[]\":,0123456789-eE.tfn\\ \x00\xff\x80";
    let mut out = body.to_vec();
    let rounds = rng.random_range(1..=4);
    for _ in 0..rounds {
        let len = out.len().max(1);
        match rng.random_range(0..8) {
            0 => {
                let at = rng.random_range(0..len);
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << rng.random_range(0..8);
                }
            }
            1 => {
                let at = rng.random_range(0..len);
                if let Some(b) = out.get_mut(at) {
                    *b = rng.random();
                }
            }
            2 => {
                let at = rng.random_range(0..=out.len());
                let byte = STRUCTURE[rng.random_range(0..STRUCTURE.len())];
                out.insert(at, byte);
            }
            3 => {
                let from = rng.random_range(0..len);
                let to = (from + rng.random_range(1..64)).min(out.len());
                if from < to {
                    out.drain(from..to);
                }
            }
            4 => out.truncate(rng.random_range(0..len)),
            5 => {
                let at = rng.random_range(0..=out.len());
                let from = rng.random_range(0..other.len().max(1)).min(other.len());
                let piece = &other[from..other.len().min(from + rng.random_range(1..256))];
                out.splice(at..at, piece.iter().copied());
            }
            6 => {
                // A varint or length field pushed to its extreme.
                let at = rng.random_range(0..len);
                if let Some(b) = out.get_mut(at) {
                    *b = [0x00, 0x7f, 0x80, 0xff][rng.random_range(0..4)];
                }
            }
            _ => {
                let n = rng.random_range(0..64);
                out = (0..n).map(|_| rng.random()).collect();
            }
        }
    }
    out
}

/// The HTTP export path: decompress, decode, and when it decodes, store and query.
fn feed(store: &SpanStore, body: &[u8], gzipped: bool, encoding: Encoding) -> bool {
    let Ok(plain) = decompress(body, gzipped.then_some("gzip"), LIMIT) else {
        return false;
    };
    let Ok(request) = decode(&plain, encoding) else {
        return false;
    };
    let ids: Vec<[u8; 16]> = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter_map(|s| s.trace_id.as_slice().try_into().ok())
        .collect();
    store.ingest(request);
    let _ = store.search(&SearchQuery {
        limit: 5,
        ..SearchQuery::default()
    });
    for id in ids.iter().take(3) {
        if let Some(trace) = store.trace(id) {
            serde_json::to_vec(&trace).unwrap();
        }
    }
    true
}

#[test]
fn mutated_export_bodies_never_panic_the_decoders_or_the_store() {
    let cases = env_number("TRACEBENCH_FUZZ_CASES", 10_000);
    let seed = env_number("TRACEBENCH_FUZZ_SEED", 0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    let requests: Vec<ExportTraceServiceRequest> = [1, 3, 20]
        .into_iter()
        .map(|n| seed_request(&mut rng, n))
        .collect();
    let mut corpus: Vec<(Vec<u8>, bool, Encoding)> = Vec::new();
    for request in &requests {
        let protobuf = request.encode_to_vec();
        let json = serde_json::to_vec(request).unwrap();
        corpus.push((gzip(&protobuf), true, Encoding::Protobuf));
        corpus.push((gzip(&json), true, Encoding::Json));
        corpus.push((protobuf, false, Encoding::Protobuf));
        corpus.push((json, false, Encoding::Json));
    }
    let store = SpanStore::new(10_000, 16 * 1024 * 1024);
    // The seeds themselves decode: the fuzzer starts from valid input.
    for (body, gzipped, encoding) in &corpus {
        assert!(
            feed(&store, body, *gzipped, *encoding),
            "a seed does not decode"
        );
    }
    let mut decoded = 0u64;
    for case in 0..cases {
        let (body, gzipped, encoding) = &corpus[rng.random_range(0..corpus.len())];
        let other = &corpus[rng.random_range(0..corpus.len())].0;
        let mutated = if *gzipped && rng.random_bool(0.5) {
            // Mutate inside the compression too, not only the gzip framing.
            let plain = decompress(body, Some("gzip"), LIMIT).unwrap();
            gzip(&mutate(&mut rng, &plain, other))
        } else {
            mutate(&mut rng, body, other)
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            feed(&store, &mutated, *gzipped, *encoding)
        }));
        match outcome {
            Ok(true) => decoded += 1,
            Ok(false) => {}
            Err(_) => panic!(
                "case {case} (seed {seed:#x}) panicked on a {} {:?} body: {:02x?}",
                if *gzipped { "gzip" } else { "plain" },
                encoding,
                mutated
            ),
        }
    }
    // Some mutations keep the body valid (a flipped bit in a string): the store was exercised.
    assert!(decoded > 0, "no mutated body decoded in {cases} cases");
    eprintln!(
        "{cases} cases (seed {seed:#x}): {decoded} decoded and stored, the rest refused; no panic"
    );
}
