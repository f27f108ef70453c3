//! The Tempo client: its headers, retries and errors, answers that do not fit the question, and
//! counting against the real sink, including the time-slicing path under a small result limit.
//! Tempo's own behaviour, version by version, is in `counting.rs` (the double).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use testkit::sink::root_spans;
use tracebench::sink::{Sink, SinkConfig};
use tracebench::traces::count::{CountError, CountMethod, CountRequest, count_traces};
use tracebench::traces::tempo::{TempoClient, TempoError};

/// A server that records each request's path and query with its tenant and authorization
/// headers: the first `/ready` is a 503 (to exercise retries), every search answers one trace,
/// listed twice, that starts at [`STRAY_S`] whatever window was asked (as a server ignoring
/// `start`/`end` and merging two blocks' answers without deduplicating would), trace lookups are 404 with an empty body as Tempo's (`modules/frontend/combiner/
/// trace_by_id.go` at v2.6.1, f97027a0d8b5dd48b3de3a6eff97d4a698506547), and there is no build
/// info.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

const STRAY_S: u64 = 1_764_086_470;

async fn recording_server() -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = Arc::clone(&recorded);
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_string())
                    };
                    let mut seen = seen.lock().unwrap();
                    let path = req.uri().path();
                    let first_ready =
                        path == "/ready" && !seen.iter().any(|(p, _, _)| p == "/ready");
                    seen.push((
                        req.uri().to_string(),
                        header("x-scope-orgid"),
                        header("authorization"),
                    ));
                    let (status, body) = match path {
                        "/ready" if first_ready => (503, "not ready yet".to_string()),
                        "/ready" => (200, "ready".to_string()),
                        "/api/search" => (200, {
                            let trace = format!(
                                r#"{{"traceID":"1f5594ff52b1f917f4deca8e38243a","rootServiceName":"api-gateway","startTimeUnixNano":"{}"}}"#,
                                STRAY_S * 1_000_000_000
                            );
                            format!(r#"{{"traces":[{trace},{trace}],"metrics":{{}}}}"#)
                        }),
                        _ => (404, String::new()),
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
async fn credentials_retries_and_answers_that_do_not_fit_the_question() {
    // This test binary's only test that reads the environment: set it before the client.
    // SAFETY: no other thread of this test reads or writes the environment concurrently.
    unsafe {
        std::env::set_var("TEMPO_TENANT", "team-a");
        std::env::set_var("TEMPO_TOKEN", "s3cret-token");
    }
    let (addr, seen) = recording_server().await;
    let client = TempoClient::new(&format!("http://{addr}")).unwrap();
    client.ready().await.expect("ready after one retry");

    // A search answered with a trace outside the window asked for is an error, not a count.
    let request = CountRequest {
        services: vec!["api-gateway".into()],
        complete_with: vec![],
        start_s: STRAY_S - 70,
        end_s: STRAY_S - 10,
        step_s: 60,
        search_limit: 100,
        method: CountMethod::Search,
    };
    let err = count_traces(&client, &request).await.unwrap_err();
    assert!(matches!(err, CountError::Misplaced { .. }), "{err}");
    // Asked for the second it is in, the trace listed twice counts once.
    let counts = count_traces(
        &client,
        &CountRequest {
            start_s: STRAY_S,
            end_s: STRAY_S + 1,
            ..request
        },
    )
    .await
    .unwrap();
    assert_eq!(counts.services[0].per_step, [1]);
    assert!(
        client.trace(&[1; 16]).await.unwrap().is_none(),
        "404 is None"
    );

    let seen = seen.lock().unwrap();
    // Two readiness checks; per count its build info and one search; one trace lookup.
    assert_eq!(seen.len(), 2 + 2 + 2 + 1, "{seen:#?}");
    for (uri, tenant, auth) in seen.iter() {
        assert_eq!(tenant.as_deref(), Some("team-a"), "{uri}");
        assert_eq!(auth.as_deref(), Some("Bearer s3cret-token"), "{uri}");
    }
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
        complete_with: vec![],
        start_s: t0,
        end_s: t0 + 240,
        step_s: 60,
        search_limit: 5,
        method: CountMethod::Search,
    };
    let counts = count_traces(&client, &request).await.unwrap();
    assert_eq!(counts.method, CountMethod::Search);
    assert_eq!(counts.services[0].per_step, per_minute);
    assert_eq!(counts.services[1].per_step, [1, 0, 0, 0]);
    // No service named: every trace once, whatever its root.
    let all = count_traces(
        &client,
        &CountRequest {
            services: vec![],
            ..request.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.services[0].service, "all");
    assert_eq!(all.services[0].per_step, [23 + 1, 7, 0, 41]);
    assert!(
        counts.services[0].queries > 4 * 4,
        "a limit of 5 forces splits: {} queries",
        counts.services[0].queries
    );

    // More traces in one second than the limit: the limit grows until the second fits.
    let dense: Vec<(u128, u64)> = (0..30)
        .map(|i| (1 << 120 | i, (t0 + 300) * 1_000_000_000 + i as u64))
        .collect();
    sink.store().ingest(root_spans("dense", &dense));
    let counts = count_traces(
        &client,
        &CountRequest {
            services: vec!["dense".into()],
            start_s: t0 + 300,
            end_s: t0 + 360,
            ..request.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(counts.services[0].total, 30);

    // Forcing TraceQL metrics on a server that is not a Tempo (no build info) is a refusal.
    let err = count_traces(
        &client,
        &CountRequest {
            method: CountMethod::Metrics,
            ..request
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CountError::Metrics(_)), "{err}");
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
            spss: 3,
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
