//! Python's official OTLP/HTTP protobuf exporter (`opentelemetry-exporter-otlp-proto-http`, gzip)
//! delivers to the sink, with exact counts and links.
//!
//! Skipped loudly when the Python package is missing, unless `TRACEBENCH_REQUIRE_PYTHON=1`
//! (set by `.ci/run`, which installs it) makes that a failure.

use std::process::Command;

use tracebench::sink::{Sink, SinkConfig};
use tracebench::traces::model::{decode_id, hex_decode};
use tracebench::traces::tempo::TempoClient;

const TRACES: usize = 50;

fn python_exporter_available() -> bool {
    let found = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.exporter.otlp.proto.http, opentelemetry.sdk",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        testkit::skip::missing(
            "sink_python",
            "TRACEBENCH_REQUIRE_PYTHON",
            "python3 lacks the OTLP exporter (pip install opentelemetry-sdk \
             opentelemetry-exporter-otlp-proto-http)",
        );
    }
    found
}

#[tokio::test]
async fn python_otlp_http_exporter_delivers_exact_traces() {
    if !python_exporter_available() {
        return;
    }
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let endpoint = format!("{}/v1/traces", sink.addrs().otlp_http_url());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/export_traces.py");
    let output = tokio::process::Command::new("python3")
        .args([script, &endpoint, "py-svc", &TRACES.to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "exporter failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sent.len(), TRACES);
    let stats = sink.store().stats();
    assert_eq!(
        (stats.traces, stats.spans),
        (TRACES, TRACES * 2),
        "{stats:?}"
    );

    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    for s in &sent {
        let hex = |k: &str| hex_decode(s[k].as_str().unwrap()).unwrap();
        let trace_id: [u8; 16] = hex("trace_id").try_into().unwrap();
        let trace = client.trace(&trace_id).await.unwrap().expect("stored");
        assert_eq!(trace.batches[0].resource.service_name(), Some("py-svc"));
        let mut links: Vec<(Vec<u8>, Vec<u8>)> = trace
            .batches
            .iter()
            .flat_map(|b| &b.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|sp| {
                (
                    decode_id(&sp.span_id).unwrap(),
                    decode_id(&sp.parent_span_id).unwrap(),
                )
            })
            .collect();
        links.sort();
        let mut want = vec![(hex("root"), vec![]), (hex("child"), hex("root"))];
        want.sort();
        assert_eq!(links, want);
    }
    sink.stop().await;
}
