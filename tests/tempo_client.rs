//! The Tempo client: parsing Tempo's documented answers (fixtures from its docs, served by a small
//! local HTTP server), its headers, retries and errors, and counting against the real sink,
//! including the time-slicing path under a small result limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
mod sink_support;

use sink_support::root_spans;
use tracebench::traces::count::{CountError, CountMethod, CountRequest, count_traces};
use tracebench::traces::model::{MetricsResponse, SearchResponse, TraceResponse, pad_trace_id};
use tracebench::traces::sink::{Sink, SinkConfig};
use tracebench::traces::tempo::{TempoClient, TempoError};
use tracebench::traces::verify::check_trace;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/tempo/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn search_fixture_parses() {
    let search: SearchResponse = serde_json::from_str(&fixture("search.json")).unwrap();
    assert_eq!(search.traces.len(), 3);
    let trimmed = &search.traces[1];
    assert_eq!(trimmed.trace_id.len(), 30);
    assert_eq!(
        pad_trace_id(&trimmed.trace_id),
        "001f5594ff52b1f917f4deca8e38243a"
    );
    assert_eq!(trimmed.duration_ms, 0, "left out when zero");
    assert_eq!(
        search.traces[0].start_time_unix_nano,
        1_764_086_412_345_678_000
    );
    assert_eq!(
        search.traces[0].span_set.as_ref().unwrap().spans[0].duration_nanos,
        3_051_222
    );
    assert_eq!(search.metrics.inspected_bytes, 83_235);
    assert_eq!(search.metrics.inspected_traces, 12);
}

#[test]
fn trace_fixture_parses_and_is_a_whole_linked_trace() {
    let trace: TraceResponse = serde_json::from_str(&fixture("trace.json")).unwrap();
    assert_eq!(trace.batches.len(), 2);
    assert_eq!(
        trace.batches[1].resource.service_name(),
        Some("user-auth-service")
    );
    let services = ["api-gateway".to_string(), "user-auth-service".to_string()];
    let probe_parent = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    assert_eq!(check_trace(&trace, &services, &probe_parent), Ok(()));
    let reversed = ["user-auth-service".to_string(), "api-gateway".to_string()];
    assert!(check_trace(&trace, &reversed, &probe_parent).is_err());
}

#[test]
fn metrics_fixture_parses() {
    let metrics: MetricsResponse =
        serde_json::from_str(&fixture("metrics_query_range.json")).unwrap();
    let samples = &metrics.series[0].samples;
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[1].timestamp_ms, 1_764_086_460_000);
    assert_eq!(samples[2].value, 61.0);
}

/// Serves the fixtures like Tempo would; the first `/ready` is a 503 (to exercise retries).
/// Records each request's path and query with its tenant and authorization headers.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

async fn fixture_server() -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let docs: Arc<HashMap<&str, String>> = Arc::new(HashMap::from([
        ("/api/search", fixture("search.json")),
        (
            "/api/metrics/query_range",
            fixture("metrics_query_range.json"),
        ),
        (
            "/api/traces/2f3e0cee77ae5dc9c17ade3689eb2e54",
            fixture("trace.json"),
        ),
    ]));
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (seen, docs) = (Arc::clone(&recorded), Arc::clone(&docs));
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_string())
                    };
                    let mut seen = seen.lock().unwrap();
                    let first_ready = req.uri().path() == "/ready"
                        && !seen.iter().any(|(p, _, _)| p.starts_with("/ready"));
                    seen.push((
                        req.uri().to_string(),
                        header("x-scope-orgid"),
                        header("authorization"),
                    ));
                    let (status, body) = match docs.get(req.uri().path()) {
                        _ if first_ready => (503, "not ready yet".to_string()),
                        _ if req.uri().path() == "/ready" => (200, "ready".to_string()),
                        Some(doc) => (200, doc.clone()),
                        None => (404, "trace not found".to_string()),
                    };
                    let resp = http::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn client_against_documented_answers() {
    // This test binary's only test that reads the environment: set it before the client.
    // SAFETY: no other thread of this test reads or writes the environment concurrently.
    unsafe {
        std::env::set_var("TEMPO_TENANT", "team-a");
        std::env::set_var("TEMPO_TOKEN", "s3cret-token");
    }
    let (addr, seen) = fixture_server().await;
    let client = TempoClient::new(&format!("http://{addr}")).unwrap();
    client.ready().await.expect("ready after one retry");

    let by_metrics = CountRequest {
        services: vec!["api-gateway".into()],
        start_s: 1_764_086_400,
        end_s: 1_764_086_580,
        step_s: 60,
        search_limit: 100,
        method: CountMethod::Auto,
    };
    let counts = count_traces(&client, &by_metrics).await.unwrap();
    assert_eq!(counts.method, CountMethod::Metrics);
    assert_eq!(counts.services[0].per_step, [118, 120, 61]);

    // The same documents through search: the third trace has no root yet and is not counted;
    // every slice gets the same answer, and each trace counts once, in its own minute.
    let by_search = CountRequest {
        end_s: 1_764_086_520,
        method: CountMethod::Search,
        ..by_metrics
    };
    let counts = count_traces(&client, &by_search).await.unwrap();
    assert_eq!(counts.services[0].per_step, [1, 1]);

    let id = u128::from_str_radix("2f3e0cee77ae5dc9c17ade3689eb2e54", 16).unwrap();
    let trace = client.trace(&id.to_be_bytes()).await.unwrap().unwrap();
    assert_eq!(trace.batches.len(), 2);
    assert!(
        client.trace(&[1; 16]).await.unwrap().is_none(),
        "404 is None"
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2 + 1 + 2 + 2, "{seen:#?}");
    for (uri, tenant, auth) in seen.iter() {
        assert_eq!(tenant.as_deref(), Some("team-a"), "{uri}");
        assert_eq!(auth.as_deref(), Some("Bearer s3cret-token"), "{uri}");
    }
    let metrics_uri = &seen
        .iter()
        .find(|(u, _, _)| u.contains("query_range"))
        .unwrap()
        .0;
    assert!(
        metrics_uri.contains("nestedSetParent%20%3D%20-1") && metrics_uri.contains("step=60s"),
        "{metrics_uri}"
    );
}

#[tokio::test]
async fn counting_splits_full_slices_against_the_sink() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let t0: u64 = 1_764_086_400;
    // Minute 0: 23 traces, minute 1: 7, minute 2: 0, minute 3: 41 (bursty within the minute).
    let per_minute = [23u64, 7, 0, 41];
    let mut traces = Vec::new();
    for (minute, &n) in per_minute.iter().enumerate() {
        for i in 0..n {
            let at_s = t0 + minute as u64 * 60 + (i * 59 / n.max(1));
            traces.push((
                (minute as u128) << 64 | i as u128 | 1 << 100,
                at_s * 1_000_000_000 + i,
            ));
        }
    }
    sink.store().ingest(root_spans("gw", &traces));
    // Another service's traces in the same window are not counted for gw.
    sink.store()
        .ingest(root_spans("other", &[(7, t0 * 1_000_000_000)]));

    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    let request = CountRequest {
        services: vec!["gw".into(), "other".into()],
        start_s: t0,
        end_s: t0 + 240,
        step_s: 60,
        search_limit: 5,
        method: CountMethod::Auto,
    };
    let counts = count_traces(&client, &request).await.unwrap();
    assert_eq!(counts.method, CountMethod::Search);
    assert_eq!(counts.services[0].per_step, per_minute);
    assert_eq!(counts.services[1].per_step, [1, 0, 0, 0]);
    assert!(
        counts.services[0].queries > 4 * 4,
        "a limit of 5 forces splits: {} queries",
        counts.services[0].queries
    );

    // More traces in one second than the limit: a clear error, not a wrong count.
    let dense: Vec<(u128, u64)> = (0..6)
        .map(|i| (1 << 120 | i, (t0 + 300) * 1_000_000_000))
        .collect();
    sink.store().ingest(root_spans("dense", &dense));
    let err = count_traces(
        &client,
        &CountRequest {
            services: vec!["dense".into()],
            start_s: t0 + 300,
            end_s: t0 + 360,
            ..request.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CountError::TooDense { limit: 5, .. }),
        "{err}"
    );

    // Forcing TraceQL metrics on a server without them is a refusal, with the status.
    let err = count_traces(
        &client,
        &CountRequest {
            method: CountMethod::Metrics,
            ..request
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            CountError::Tempo(TempoError::Refused { status: 404, .. })
        ),
        "{err}"
    );
    sink.stop().await;
}

#[tokio::test]
async fn unreachable_and_refused_are_told_apart() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let url = sink.addrs().api_url();
    sink.stop().await;
    let client = TempoClient::new(&url).unwrap().with_retries(1);
    let err = client.ready().await.unwrap_err();
    assert!(matches!(err, TempoError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");

    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    let err = client
        .search(&tracebench::traces::tempo::Search {
            q: "{ span.http.status_code = 500 }".into(),
            start_s: 0,
            end_s: 1,
            limit: 1,
        })
        .await
        .unwrap_err();
    match &err {
        TempoError::Refused { status, body, .. } => {
            assert_eq!(*status, 400);
            assert!(body.contains("unsupported TraceQL"), "{body}");
        }
        other => panic!("expected a refusal, got {other}"),
    }
    sink.stop().await;
}
