//! The commands as a user runs them: `tracebench sink` on ephemeral ports (its log names the
//! bound addresses and, on Ctrl-C, what it received and evicted), `tracebench traces count`
//! against it, and bad usage exiting 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use testkit::run::tracebench_json;
use testkit::sink::root_spans;

const BIN: &str = env!("CARGO_BIN_EXE_tracebench");

/// Reads `... on ADDR ...` addresses from the sink's first log line.
fn addresses(line: &str) -> Vec<String> {
    line.split_whitespace()
        .filter(|w| w.starts_with("127.0.0.1:"))
        .map(|w| w.trim_end_matches([',', ';']).to_string())
        .collect()
}

/// `tracebench sink` on ephemeral ports with `extra` arguments: the child, its log after the
/// first line, and its OTLP gRPC and query API addresses.
fn start_sink(extra: &[&str]) -> (Child, BufReader<ChildStderr>, String, String) {
    let mut sink = Command::new(BIN)
        .args(["sink", "--otlp-grpc", "127.0.0.1:0"])
        .args(["--otlp-http", "127.0.0.1:0", "--api", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(sink.stderr.take().unwrap());
    let mut first = String::new();
    log.read_line(&mut first).unwrap();
    let addrs = addresses(&first);
    assert_eq!(addrs.len(), 3, "{first}");
    (sink, log, addrs[0].clone(), addrs[2].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_command_serves_counts_and_reports_evictions() {
    let (mut sink, log, grpc, api) = start_sink(&["--max-spans", "10"]);

    let t0 = 1_764_086_400;
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    // 12 one-span traces into a store of 10: the two oldest are evicted.
    let traces: Vec<(u128, u64)> = (0..12u64)
        .map(|i| (u128::from(i) | 1 << 100, (t0 + i) * 1_000_000_000))
        .collect();
    client.export(root_spans("gw", &traces)).await.unwrap();

    let (count, counts): (_, serde_json::Value) = tracebench_json(&[
        "traces",
        "count",
        "--tempo",
        &format!("http://{api}"),
        "--service",
        "gw",
        "--start",
        "2025-11-25T16:00:00Z",
        "--end",
        &(t0 + 120).to_string(),
    ]);
    let table = String::from_utf8_lossy(&count.stdout);
    assert!(table.contains("2025-11-25T16:00:00Z"), "{table}");
    assert!(table.contains("counted by search"), "{table}");
    assert_eq!(
        counts["services"][0]["per_step"],
        serde_json::json!([10, 0])
    );

    drop(client);
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(sink.id() as i32, libc::SIGINT) }, 0);
    let rest: Vec<String> = log.lines().map(Result::unwrap).collect();
    assert!(sink.wait().unwrap().success());
    let last = rest.last().expect("a final log line");
    assert!(
        last.contains("12 spans received") && last.contains("2 spans in 2 traces evicted"),
        "{last}"
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = Command::new(BIN)
        .args(["traces", "count", "--start", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    // Windows too large to hold or to turn into nanoseconds are refused before any query.
    for (window, expected) in [
        (["--start", "0", "--end", "99999999999"], "after 2262-04-11"),
        (["--start", "0", "--end", "1800000000"], "at most 527040"),
    ] {
        let out = Command::new(BIN)
            .args(["traces", "count", "--tempo", "http://127.0.0.1:9"])
            .args(window)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }

    let out = Command::new(BIN)
        .args(["traces", "count", "--start", "200", "--end", "100"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty window"));
}

#[test]
fn an_unreachable_trace_store_is_a_broken_run() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .args([
            "traces",
            "count",
            "--tempo",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"));
}

/// 5,000 traces a second for 10 s into `tracebench sink` over OTLP gRPC, then `traces count`
/// with its defaults (the last 10 minutes, a first search limit of 1,000): exactly 50,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_count_with_defaults_is_exact_at_5000_traces_a_second() {
    let (mut sink, _log, grpc, api) = start_sink(&[]);
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    const PER_SECOND: u64 = 5_000;
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    for second in 0..10u64 {
        ticks.tick().await;
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        // Spread over the second that just ended; ids with leading zero bytes included.
        let traces: Vec<(u128, u64)> = (0..PER_SECOND)
            .map(|i| {
                // The top bit (64, 72 or 80) keeps the shifted ids distinct.
                let id = (1 << 64 | u128::from(second * PER_SECOND + i)) << (8 * (i % 3));
                (
                    id,
                    now_ns - 1_000_000_000 + i * (1_000_000_000 / PER_SECOND),
                )
            })
            .collect();
        client.export(root_spans("gw", &traces)).await.unwrap();
    }
    let api_url = format!("http://{api}");
    let (_, counts): (_, serde_json::Value) =
        tracebench_json(&["traces", "count", "--tempo", &api_url, "--service", "gw"]);
    assert_eq!(
        counts["services"][0]["total"], 50_000,
        "{}",
        counts["services"][0]
    );
    // SIGTERM (what a service manager or `docker stop` sends) stops it as cleanly as Ctrl-C.
    // SAFETY: kill has no memory preconditions; the PID is our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(sink.id() as i32, libc::SIGTERM) }, 0);
    assert!(sink.wait().unwrap().success());
}

/// The sink's resident memory, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_fed_ten_times_its_bounds_stays_bounded_and_ready() {
    const MAX_SPANS: u64 = 20_000;
    const MAX_BYTES: u64 = 24 * 1024 * 1024;
    const BODY: u64 = 4 * 1024 * 1024;
    let (mut sink, log, grpc, api) = start_sink(&[
        "--max-spans",
        &MAX_SPANS.to_string(),
        "--max-bytes",
        &MAX_BYTES.to_string(),
        "--max-body-bytes",
        &BODY.to_string(),
    ]);
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap()
        .max_decoding_message_size(BODY as usize);
    let ready = |api: String| async move {
        let answer = testkit::net::fetch(api.parse().unwrap(), "/ready").await;
        matches!(answer, Ok((200, _)))
    };
    // Idle: the sink with its connections open and one one-span export served, so what it
    // starts lazily (the runtime's threads, the HTTP/2 connection) is in the baseline and only
    // the data is measured beyond it. Read at once after start, idle moved between 14 and
    // 18 MiB from run to run.
    client
        .export(root_spans("gw", &[(1 << 101, 1_000_000_000)]))
        .await
        .unwrap();
    assert!(ready(api.clone()).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let idle = rss_bytes(sink.id());
    // 10 x the span bound, in one-span traces carrying 2 KiB each: 10 x the byte bound too.
    let blob = "x".repeat(2048);
    let mut peak = idle;
    for batch in 0..(10 * MAX_SPANS / 1000) {
        let traces: Vec<(u128, u64)> = (0..1000u64)
            .map(|i| {
                (
                    u128::from(batch * 1000 + i) | 1 << 100,
                    1_000_000_000 * (batch + 1),
                )
            })
            .collect();
        let mut request = root_spans("gw", &traces);
        for span in &mut request.resource_spans[0].scope_spans[0].spans {
            span.attributes = vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                key: "blob".into(),
                value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            blob.clone(),
                        ),
                    ),
                }),
                ..Default::default()
            }];
        }
        client.export(request).await.unwrap();
        let answered =
            tokio::time::timeout(std::time::Duration::from_secs(5), ready(api.clone())).await;
        assert!(matches!(answered, Ok(true)), "/ready after batch {batch}");
        peak = peak.max(rss_bytes(sink.id()));
    }
    // The bound covers the sink's data: the spans it keeps and the exports it decodes (it keeps
    // room for the largest one). What the process holds beyond idle stays within it. The span
    // bound alone would keep 40 MiB of these spans, and 400 MiB were sent.
    assert!(
        peak <= idle + MAX_BYTES,
        "peak RSS {} MiB: more than idle {} MiB + bound {} MiB",
        peak >> 20,
        idle >> 20,
        MAX_BYTES >> 20,
    );
    drop(client);
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(sink.id() as i32, libc::SIGINT) }, 0);
    let rest: Vec<String> = log.lines().map(Result::unwrap).collect();
    assert!(sink.wait().unwrap().success());
    let last = rest.last().expect("a final log line");
    assert!(last.contains("200001 spans received"), "{last}");
    // The store's own estimate: within the bound once each batch's evictions are done.
    let used_mib: f64 = last
        .split(" of ")
        .next()
        .and_then(|head| head.rsplit(", ").next())
        .and_then(|used| used.trim().parse().ok())
        .unwrap_or_else(|| panic!("no bytes used in {last}"));
    assert!(used_mib <= (MAX_BYTES >> 20) as f64, "{last}");
    eprintln!("idle {} MiB, peak {} MiB; {last}", idle >> 20, peak >> 20);
}

#[test]
fn traces_verify_stops_on_sigterm_with_exit_4() {
    let (mut sink, _log, _grpc, api) = start_sink(&[]);
    // The probes go to the sink's OTLP/HTTP receiver (served on the query port too), which
    // accepts them and exports nothing: verify waits for traces that never come, until SIGTERM.
    let mut verify = Command::new(BIN)
        .args(["traces", "verify", "--tempo", &format!("http://{api}")])
        .args([
            "--gateway",
            &format!("http://{api}"),
            "--path",
            "/v1/traces",
        ])
        .args(["--probes", "1", "--timeout", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        verify.try_wait().unwrap().is_none(),
        "verify ended before the signal"
    );
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(verify.id() as i32, libc::SIGTERM) }, 0);
    let out = verify.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    let _ = sink.kill();
    let _ = sink.wait();
}
