//! End to end: the real demo stack (demo-gateway + demo-auth, Rust SDK, OTLP gRPC) exports to the
//! built-in sink, and tracebench's counting and verification agree with what was sent.
//!
//! - always_on: traces counted equal successful requests, exactly;
//! - traceidratio 0.1: the count lies in the binomial 99% interval around 10% of the successes;
//! - always_off: zero;
//! - `tracebench traces verify` passes against the stack, and fails (exit 1) when a service is
//!   expected that never reports;
//! - the trace a response names in `traceresponse` (HTTP header, gRPC metadata) is one the sink
//!   holds, whole, and only recorded requests name one.
//!
//! Requests are sent one at a time from a bounded loop (the point is counting, not speed); the
//! stack is stopped gracefully before counting, which flushes every span it recorded.

use std::process::Command;
use testkit::net::now_s;
use testkit::run::tracebench_json;

use testkit::demo::DemoStack;
use tracebench::sink::{Sink, SinkConfig};
use tracebench::traces::count::{CountRequest, count_traces};
use tracebench::traces::tempo::TempoClient;

/// Starts the stack exporting to `sink` with `sampler`, sends `requests` registers, stops the
/// stack (flushing spans) and returns how many requests succeeded (HTTP 200).
async fn drive(sink: &Sink, sampler: &[(&'static str, &'static str)], requests: usize) -> u64 {
    let endpoint = sink.addrs().otlp_grpc_url();
    let sampler = sampler.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut env = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // Export often, and with a queue large enough that no span is dropped in the services.
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
        ];
        env.extend(sampler);
        let stack = DemoStack::start(&env);
        let run = now_s();
        let mut ok = 0;
        for i in 0..requests {
            let body = format!(
                r#"{{"username":"e2e-{run}-{i}","email":"e2e-{run}-{i}@example.com","password":"pw-{i}-long-enough"}}"#
            );
            let (status, text) = stack
                .post("/api/auth/register", &[("content-type", "application/json")], &body)
                .expect("gateway answers");
            assert!(status == 200, "register {i}: HTTP {status}: {text}");
            ok += 1;
        }
        stack.stop();
        ok
    })
    .await
    .unwrap()
}

async fn gateway_traces(sink: &Sink, start_s: u64) -> u64 {
    let client = TempoClient::new(&sink.addrs().api_url()).unwrap();
    let counts = count_traces(
        &client,
        &CountRequest::roots(&["api-gateway"], start_s, now_s() + 2),
    )
    .await
    .unwrap();
    counts.services[0].total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_on_gives_one_trace_per_successful_request() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let start_s = now_s();
    let ok = drive(&sink, &[("OTEL_TRACES_SAMPLER", "always_on")], 300).await;
    assert_eq!(gateway_traces(&sink, start_s).await, ok);
    assert_eq!(sink.store().stats().traces as u64, ok, "no stray traces");

    // The CLI says the same, in its JSON.
    let (_, counts): (_, serde_json::Value) = tracebench_json(&[
        "traces",
        "count",
        "--tempo",
        &sink.addrs().api_url(),
        "--service",
        "api-gateway",
        "--start",
        &start_s.to_string(),
        "--end",
        &(now_s() + 2).to_string(),
        "--search-limit",
        "5000",
    ]);
    assert_eq!(counts["services"][0]["total"], ok);
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceidratio_tenth_lies_in_the_binomial_interval() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let start_s = now_s();
    let sampler = [
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
    ];
    let ok = drive(&sink, &sampler, 1000).await;
    let counted = gateway_traces(&sink, start_s).await as f64;
    // Random trace ids: the sampled count is Binomial(ok, 0.1); 99% interval by the normal
    // approximation (z = 2.576), which is accurate at n p = 100.
    let (n, p) = (ok as f64, 0.1);
    let half = 2.576 * (n * p * (1.0 - p)).sqrt();
    assert!(
        (n * p - half..=n * p + half).contains(&counted),
        "{counted} traces of {ok} requests: outside {:.1} ± {half:.1}",
        n * p
    );
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_off_gives_no_traces() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let start_s = now_s();
    let ok = drive(&sink, &[("OTEL_TRACES_SAMPLER", "always_off")], 100).await;
    assert_eq!(ok, 100);
    assert_eq!(gateway_traces(&sink, start_s).await, 0);
    assert_eq!(sink.store().stats().received_spans, 0);
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_verify_passes_against_the_demo_and_fails_on_a_missing_service() {
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    let endpoint = sink.addrs().otlp_grpc_url();
    let api = sink.addrs().api_url();
    let exits = tokio::task::spawn_blocking(move || {
        let stack = DemoStack::start(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ]);
        let verify = |services: &str, timeout: &str| {
            Command::new(env!("CARGO_BIN_EXE_tracebench"))
                .args([
                    "traces",
                    "verify",
                    "--gateway",
                    &stack.gateway_url(),
                    "--tempo",
                    &api,
                ])
                .args([
                    "--services",
                    services,
                    "--probes",
                    "5",
                    "--timeout",
                    timeout,
                ])
                .output()
                .unwrap()
        };
        let good = verify("api-gateway,user-auth-service", "30s");
        let bad = verify("api-gateway,user-auth-service,no-such-service", "3s");
        stack.stop();
        (good, bad)
    })
    .await
    .unwrap();
    let (good, bad) = exits;
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}{}",
        text(&good),
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        text(&good).contains("found 5, missing 0, broken 0"),
        "{}",
        text(&good)
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("no span from no-such-service"),
        "{}",
        text(&bad)
    );
    sink.stop().await;
}

/// `tracebench drive --slowest` against the stack: the trace IDs in the slowest requests' JSON.
fn slowest_trace_ids(target: &[&str]) -> (usize, Vec<tracebench::load::TraceId>) {
    let mut args = vec!["drive"];
    args.extend(target);
    args.extend(["--rate", "50", "--duration", "1s", "--slowest", "10"]);
    let (_, summary): (_, tracebench::load::LoadSummary) = tracebench_json(&args);
    assert_eq!(summary.errors, 0, "{summary:?}");
    let ids = summary.slowest.iter().filter_map(|r| r.trace_id).collect();
    (summary.slowest.len(), ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_a_response_names_is_a_recorded_trace_over_http_and_grpc() {
    for (sampler, ratio) in [("always_on", "1"), ("traceidratio", "0.1")] {
        let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
        let endpoint = sink.addrs().otlp_grpc_url();
        let (http, grpc) = tokio::task::spawn_blocking(move || {
            let stack = DemoStack::start(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_BSP_SCHEDULE_DELAY", "200"),
                ("OTEL_TRACES_SAMPLER", sampler),
                ("OTEL_TRACES_SAMPLER_ARG", ratio),
            ]);
            let url = format!("{}/api/auth/register", stack.gateway_url());
            let http = slowest_trace_ids(&["--url", &url]);
            let grpc = slowest_trace_ids(&["--grpc", &stack.auth_addr().to_string()]);
            stack.stop(); // flushes every span recorded
            (http, grpc)
        })
        .await
        .unwrap();
        for ((kept, ids), services) in [
            (http, &["api-gateway", "user-auth-service"][..]),
            (grpc, &["user-auth-service"][..]),
        ] {
            assert_eq!(kept, 10);
            if sampler == "always_on" {
                assert_eq!(ids.len(), 10, "every recorded request names its trace");
            } else {
                assert!(
                    ids.len() < 10,
                    "sampled at 0.1, yet {} of 10 named a trace",
                    ids.len()
                );
            }
            for id in ids {
                let trace = sink
                    .store()
                    .trace(&id.0)
                    .unwrap_or_else(|| panic!("{id} not in the sink"));
                let found: Vec<&str> = trace
                    .batches
                    .iter()
                    .filter_map(|b| b.resource.service_name())
                    .collect();
                for service in services {
                    assert!(found.contains(service), "{id}: {found:?} lacks {service}");
                }
            }
        }
        sink.stop().await;
    }
}
