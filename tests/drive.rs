//! The open-loop driver against real servers on loopback: hyper and tonic servers written here,
//! on free ports, whose behaviour (stalls, slowness, statuses) each test chooses.
//!
//! Timing tolerances are meant for a loaded 2-core machine: rates are low (<= 200/s), and each
//! bound says what it allows for.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracebench::load::{
    self, Arrivals, BodyTemplate, Endpoint, GrpcEndpoint, HttpEndpoint, Interval, LoadOutcome,
    LoadSpec,
};

/// What the test server does with request number `n` (0-based) and its body: status and delay.
type Behaviour = Arc<dyn Fn(u64, &[u8]) -> (u16, Duration) + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1:0, keep-alive, answering per `behaviour`.
async fn http_server(behaviour: Behaviour) -> SocketAddr {
    http_server_closing(behaviour, u64::MAX).await
}

/// Like [`http_server`], but every `close_every`-th response says `Connection: close` and the
/// connection ends, as nginx does after `keepalive_requests`.
async fn http_server_closing(behaviour: Behaviour, close_every: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (behaviour, counter) = (behaviour.clone(), counter.clone());
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (behaviour, counter) = (behaviour.clone(), counter.clone());
                async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let (status, delay) = behaviour(n, &body);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    // Even requests were "sampled": their response names a trace.
                    if n % 2 == 0 {
                        let value = format!("00-{:032x}-00f067aa0ba902b7-01", n + 1);
                        resp.headers_mut()
                            .insert("traceresponse", value.parse().unwrap());
                    }
                    if (n + 1) % close_every == 0 {
                        resp.headers_mut()
                            .insert("connection", http::HeaderValue::from_static("close"));
                    }
                    Ok::<_, hyper::Error>(resp)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn instant(status: u16) -> Behaviour {
    Arc::new(move |_, _| (status, Duration::ZERO))
}

fn http_spec(addr: SocketAddr, rate: f64, duration: Duration) -> LoadSpec {
    LoadSpec {
        target: Endpoint::Http(HttpEndpoint {
            url: format!("http://{addr}/api/auth/register").parse().unwrap(),
            method: http::Method::POST,
            headers: http::HeaderMap::new(),
            body: Some(BodyTemplate::default_register()),
            expect: vec![
                http::StatusCode::OK,
                http::StatusCode::CREATED,
                http::StatusCode::CONFLICT,
            ],
            trace_header: http::HeaderName::from_static(load::DEFAULT_TRACE_HEADER),
        }),
        rate,
        duration,
        warmup: Duration::ZERO,
        connections: 4,
        max_in_flight: 1000,
        arrivals: Arrivals::Uniform,
        request_timeout: Duration::from_secs(10),
        drain_timeout: Duration::from_secs(5),
        run_id: load::new_run_id(),
        first_seq: 0,
        slowest: load::DEFAULT_SLOWEST,
        start_at: None,
        phase: Duration::ZERO,
    }
}

async fn drive(spec: LoadSpec) -> LoadOutcome {
    load::run(spec, None, CancellationToken::new())
        .await
        .unwrap()
}

/// Values in a µs histogram above `threshold_us`.
fn count_above(h: &hdrhistogram::Histogram<u64>, threshold_us: u64) -> u64 {
    h.len() - h.count_between(0, threshold_us)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrected_latency_shows_a_stall_that_service_time_does_not() {
    // Rate R = 200/s, one connection, and the server stalls request #200 (1 s in) for D = 500 ms.
    // While it stalls, the requests due in [s, s + D] cannot be sent (the only connection is
    // busy): they queue in the driver, then go out back to back once the stall ends. Request due
    // at s + x therefore completes at about s + D and its corrected latency is about D - x. So
    // latency exceeds a threshold T for the requests with x < D - T: R * (D - T) of them; with
    // T = D / 2 that is 200 * 0.25 = 50, and T = 100 ms gives 200 * 0.4 = 80. Service time
    // (completion minus actual send) is long only for the stalled request itself.
    const STALL: Duration = Duration::from_millis(500);
    let addr = http_server(Arc::new(|n, _| {
        (200, if n == 200 { STALL } else { Duration::ZERO })
    }))
    .await;
    let mut spec = http_spec(addr, 200.0, Duration::from_secs(3));
    spec.connections = 1;
    let out = drive(spec).await;
    assert_eq!(out.summary.completed, 600, "{:?}", out.summary);

    let over_half = count_above(&out.latency, 250_000);
    let over_100ms = count_above(&out.latency, 100_000);
    let slow_service = count_above(&out.service_time, 250_000);
    eprintln!(
        "latency > 250 ms: {over_half}, > 100 ms: {over_100ms}, max {} us; service time > 250 ms: {slow_service}",
        out.latency.max()
    );
    // After the stall the ~100 queued requests drain over the one connection, which takes a time
    // c (a few ms here, tens on a loaded machine) and adds R * c to each count: R * (D - T + c).
    // The bounds allow c up to ~0.1 s, and a few hiccups below; a driver that did not correct
    // (or waited for the connection before timing) would count 1 in both.
    assert!(
        (40..=75).contains(&over_half),
        "latency > 250 ms: {over_half}, expected ~50"
    );
    assert!(
        (70..=110).contains(&over_100ms),
        "latency > 100 ms: {over_100ms}, expected ~80"
    );
    assert!(
        out.latency.max() >= 490_000,
        "max latency {} us",
        out.latency.max()
    );
    // Only the stalled request (perhaps one more on a hiccup) took long to serve.
    assert!(
        (1..=2).contains(&slow_service),
        "service time > 250 ms: {slow_service}"
    );
    // The queueing is the driver's lag, so it is not hidden either.
    assert!(count_above(&out.driver_lag, 250_000) >= 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slowest_requests_are_kept_with_the_traces_their_responses_named() {
    // Three requests stall for 60, 80 and 100 ms; every other one answers at once. Even
    // requests name a trace (number n + 1), odd ones none.
    let addr = http_server(Arc::new(|n, _| {
        let stall = match n {
            40 => 60,
            81 => 80,
            150 => 100,
            _ => 0,
        };
        (200, Duration::from_millis(stall))
    }))
    .await;
    let mut spec = http_spec(addr, 100.0, Duration::from_secs(2));
    spec.slowest = 3;
    let summary = drive(spec).await.summary;
    let kept: Vec<(u64, Option<String>)> = summary
        .slowest
        .iter()
        .map(|r| {
            (
                r.service_time_ms as u64 / 10 * 10,
                r.trace_id.map(|t| t.to_string()),
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            (100, Some(format!("{:032x}", 151))),
            (80, None),
            (60, Some(format!("{:032x}", 41))),
        ],
        "{:?}",
        summary.slowest
    );
    for r in &summary.slowest {
        assert!(
            r.latency_ms >= r.service_time_ms && r.outcome == "200",
            "{r:?}"
        );
    }
    // The due times are the stalled requests' (10 ms apart at 100/s).
    let due: Vec<f64> = summary.slowest.iter().map(|r| r.due_ms).collect();
    assert!(
        (due[0] - 1500.0).abs() < 1.0 && (due[2] - 400.0).abs() < 1.0,
        "{due:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achieved_rate_is_within_one_percent_and_lag_is_reported() {
    let addr = http_server(instant(200)).await;
    let out = drive(http_spec(addr, 200.0, Duration::from_secs(5))).await;
    let s = &out.summary;
    assert_eq!(
        (s.sent, s.completed, s.errors, s.dropped),
        (1000, 1000, 0, 0),
        "{s:?}"
    );
    let off = (s.achieved_rate - 200.0).abs() / 200.0;
    assert!(
        off < 0.01,
        "achieved {} req/s, requested 200",
        s.achieved_rate
    );
    assert_eq!(out.driver_lag.len(), 1000, "one lag value per request sent");
    assert!(s.driver_lag_ms.max >= s.driver_lag_ms.p50);
    assert!(!s.partial);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_time_out_count_as_errors_with_the_time_they_took() {
    // Every request hangs for 2 s against a 300 ms timeout: each is an error, and its latency
    // (about 300 ms from its due time) is in the histogram, so a hanging target cannot look fast.
    let addr = http_server(Arc::new(|_, _| (200, Duration::from_secs(2)))).await;
    let mut spec = http_spec(addr, 20.0, Duration::from_secs(1));
    spec.request_timeout = Duration::from_millis(300);
    spec.first_seq = 1_000;
    let out = drive(spec).await;
    let s = &out.summary;
    assert_eq!((s.due, s.completed, s.errors), (20, 0, 20), "{s:?}");
    assert_eq!(out.latency.len(), 20, "a latency per timed-out request");
    assert!(out.latency.min() >= 290_000, "min {} us", out.latency.min());
    assert!(s.latency_ms.p50 >= 290.0, "{:?}", s.latency_ms);
    // Request numbers continue from first_seq: the next load starts where this one ended.
    assert_eq!(out.next_seq, 1_020);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_closes_are_replaced_without_errors() {
    let addr = http_server_closing(instant(200), 10).await;
    let s = drive(http_spec(addr, 100.0, Duration::from_secs(1)))
        .await
        .summary;
    assert_eq!((s.completed, s.errors), (100, 0), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_cap_are_dropped_and_counted() {
    // Each request takes 200 ms; 2 connections serve 10/s while 100/s are due, and at most 4 may
    // be outstanding: most due requests meet a full cap and are dropped, the schedule is kept.
    let addr = http_server(Arc::new(|_, _| (200, Duration::from_millis(200)))).await;
    let mut spec = http_spec(addr, 100.0, Duration::from_secs(1));
    spec.connections = 2;
    spec.max_in_flight = 4;
    let s = drive(spec).await.summary;
    assert_eq!(
        s.sent + s.dropped,
        100,
        "every due request is sent or dropped: {s:?}"
    );
    assert!(s.dropped >= 70, "dropped {}", s.dropped);
    assert_eq!(s.completed, s.sent);
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.to_string().contains("dropped"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_statuses_count_as_success_and_others_as_errors() {
    let addr = http_server(Arc::new(|n, _| {
        (if n % 2 == 0 { 409 } else { 500 }, Duration::ZERO)
    }))
    .await;
    let s = drive(http_spec(addr, 50.0, Duration::from_secs(1)))
        .await
        .summary;
    assert_eq!(s.completed, 50);
    assert_eq!(s.status_counts["409"], 25);
    assert_eq!(s.status_counts["500"], 25);
    assert_eq!(s.errors, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_one_clear_error_before_the_run() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let spec = http_spec(
        format!("127.0.0.1:{port}").parse().unwrap(),
        10.0,
        Duration::from_secs(1),
    );
    let err = load::run(spec, None, CancellationToken::new())
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("refused") && !text.contains('\n'), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_is_unique_within_a_run() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let addr = http_server(Arc::new(move |_, body| {
        seen.lock().unwrap().push(body.to_vec());
        (200, Duration::ZERO)
    }))
    .await;
    let mut spec = http_spec(addr, 100.0, Duration::from_secs(1));
    spec.warmup = Duration::from_millis(200);
    let Endpoint::Http(target) = &mut spec.target else {
        unreachable!()
    };
    target.body = Some(BodyTemplate::parse(r#"{"id":"{run}-{seq}","u":"{uuid}"}"#).unwrap());
    let run_id = spec.run_id.clone();
    drive(spec).await;
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 120, "warm-up requests are sent too");
    let mut ids = HashSet::new();
    let mut uuids = HashSet::new();
    for body in bodies.iter() {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with(&format!("{run_id}-")), "{id}");
        assert_eq!(v["u"].as_str().unwrap().len(), 36);
        ids.insert(id);
        uuids.insert(v["u"].as_str().unwrap().to_owned());
    }
    assert_eq!((ids.len(), uuids.len()), (120, 120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_json_has_the_documented_keys() {
    let addr = http_server(instant(201)).await;
    let s = drive(http_spec(addr, 50.0, Duration::from_millis(500)))
        .await
        .summary;
    assert_summary_keys(&serde_json::to_value(&s).unwrap());
}

fn assert_summary_keys(v: &serde_json::Value) {
    for key in [
        "requested_rate",
        "achieved_rate",
        "sent",
        "completed",
        "errors",
        "dropped",
        "status_counts",
        "error_kinds",
        "partial",
        "duration_s",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    for hist in ["latency_ms", "service_time_ms", "driver_lag_ms"] {
        for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(v[hist][key].is_number(), "missing {hist}.{key} in {v}");
        }
    }
}

/// Reads a V2 interval log with the crate's reader: (tag, start s, length s, histogram) per line.
fn read_hlog(bytes: &[u8]) -> Vec<(String, f64, f64, hdrhistogram::Histogram<u64>)> {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(bytes) {
        if let LogEntry::Interval(iv) = entry.unwrap() {
            let raw = base64_decode(iv.encoded_histogram());
            let h = Deserializer::new()
                .deserialize(&mut raw.as_slice())
                .unwrap();
            let tag = iv.tag().map(|t| t.as_str().to_owned()).unwrap_or_default();
            out.push((
                tag,
                iv.start_timestamp().as_secs_f64(),
                iv.duration().as_secs_f64(),
                h,
            ));
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Total count of every interval in an hlog file, read by Python's `hdrh` (PyPI `hdrhistogram`).
fn python_hdrh_total(path: &std::path::Path) -> u64 {
    let script = "import sys\nfrom hdrh.log import HistogramLogReader\nfrom hdrh.histogram import HdrHistogram\n\
        ref = HdrHistogram(1, 60000000, 3)\nr = HistogramLogReader(sys.argv[1], ref)\nt = 0\n\
        while True:\n    h = r.get_next_interval_histogram()\n    if h is None: break\n    t += h.get_total_count()\nprint(t)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs (needed to check the hlog against another reader)");
    assert!(
        out.status.success(),
        "Python's hdrh could not read the log (pip install hdrhistogram): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_log_round_trips_through_two_readers() {
    let addr = http_server(instant(200)).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<Interval>();
    let out = load::run(
        http_spec(addr, 100.0, Duration::from_secs(3)),
        Some(tx),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut intervals = Vec::new();
    while let Some(iv) = rx.recv().await {
        intervals.push(iv);
    }
    assert!(
        (3..=4).contains(&intervals.len()),
        "{} intervals",
        intervals.len()
    );
    assert_eq!(intervals.iter().map(|i| i.completed).sum::<u64>(), 300);

    let mut bytes = Vec::new();
    load::hlog::write_log(&mut bytes, intervals.clone()).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("microseconds") && text.contains("#[BaseTime:"),
        "{text}"
    );
    let read = read_hlog(&bytes);
    assert_eq!(read.len(), intervals.len());
    for ((tag, start, length, h), iv) in read.iter().zip(&intervals) {
        assert_eq!(tag, "latency");
        assert!((start - iv.start.as_secs_f64()).abs() < 0.002);
        assert!((length - iv.length.as_secs_f64()).abs() < 0.002);
        assert_eq!(h, &iv.latency);
    }
    let mut merged = load::new_histogram();
    for (_, _, _, h) in &read {
        merged.add(h).unwrap();
    }
    assert_eq!(
        merged, out.latency,
        "the intervals add up to the run's histogram"
    );

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    assert_eq!(python_hdrh_total(file.path()), 300);
}

mod grpc {
    use super::*;
    use demo_proto::user_service_server::{UserService, UserServiceServer};
    use demo_proto::{RegisterRequest, RegisterResponse};

    /// A tiny UserService: usernames are unique, a duplicate is ALREADY_EXISTS.
    #[derive(Default)]
    struct Users(Mutex<HashSet<String>>);

    #[tonic::async_trait]
    impl UserService for Users {
        async fn register(
            &self,
            request: tonic::Request<RegisterRequest>,
        ) -> Result<tonic::Response<RegisterResponse>, tonic::Status> {
            let name = request.into_inner().username;
            if self.0.lock().unwrap().insert(name.clone()) {
                Ok(tonic::Response::new(RegisterResponse { user_id: name }))
            } else {
                Err(tonic::Status::already_exists(name))
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpc_register_counts_codes_and_duplicates_succeed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(UserServiceServer::new(Users::default()))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let mut spec = http_spec(addr, 50.0, Duration::from_secs(1));
        spec.target = Endpoint::Grpc(GrpcEndpoint {
            uri: format!("http://{addr}").parse().unwrap(),
            expect: vec![tonic::Code::Ok, tonic::Code::AlreadyExists],
            body: BodyTemplate::default_register(),
            trace_header: load::DEFAULT_TRACE_HEADER.into(),
        });
        let first = drive(spec.clone()).await.summary;
        assert_eq!(first.status_counts.get("grpc:OK"), Some(&50), "{first:?}");
        assert_eq!(first.errors, 0);
        // The same run id again: every username exists already, which still counts as success.
        let again = drive(spec.clone()).await.summary;
        assert_eq!(
            again.status_counts.get("grpc:ALREADY_EXISTS"),
            Some(&50),
            "{again:?}"
        );
        assert_eq!(again.errors, 0);
        let Endpoint::Grpc(target) = &mut spec.target else {
            unreachable!()
        };
        target.expect = vec![tonic::Code::Ok];
        assert_eq!(drive(spec).await.summary.errors, 50);
    }
}

mod cli {
    use super::*;
    use std::process::Stdio;
    use tokio::process::Command;

    fn tracebench() -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracebench"));
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drive_writes_json_and_hlog() {
        let addr = http_server(instant(200)).await;
        let dir = tempfile::tempdir().unwrap();
        let (json, hlog) = (dir.path().join("s.json"), dir.path().join("l.hlog"));
        let out = tracebench()
            .args([
                "drive",
                "--url",
                &format!("http://{addr}/x"),
                "--rate",
                "100",
            ])
            .args(["--duration", "2s", "--warmup", "500ms", "--slowest", "3"])
            .arg("--json")
            .arg(&json)
            .arg("--hlog")
            .arg(&hlog)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains('\r'),
            "no progress line when stderr is not a terminal: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("latency") && stdout.contains("driver lag"),
            "{stdout}"
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_summary_keys(&v);
        assert_eq!(v["completed"], 200);
        assert_eq!(v["status_counts"]["200"], 200);
        // The slowest 3, printed with the traces their responses named (every other one).
        let slowest = v["slowest"].as_array().unwrap();
        assert_eq!(slowest.len(), 3, "{v}");
        assert!(stdout.contains("slowest 3:"), "{stdout}");
        for r in slowest {
            let shown = r["trace_id"].as_str().unwrap_or("-");
            let line = format!("{:.3}", r["latency_ms"].as_f64().unwrap());
            assert!(
                stdout
                    .lines()
                    .any(|l| l.contains(&line) && l.ends_with(shown)),
                "{line} {shown} in {stdout}"
            );
        }
        let read = read_hlog(&std::fs::read(&hlog).unwrap());
        assert_eq!(read.iter().map(|(_, _, _, h)| h.len()).sum::<u64>(), 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_url_is_a_one_line_error_with_exit_code_4() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let out = tracebench()
            .args([
                "drive",
                "--url",
                &format!("http://127.0.0.1:{port}/"),
                "--duration",
                "1s",
            ])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(4));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
            "{stderr}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigint_and_sigterm_stop_cleanly_and_write_a_partial_summary() {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            stops_cleanly_on(signal).await;
        }
    }

    async fn stops_cleanly_on(signal: libc::c_int) {
        let addr = http_server(instant(200)).await;
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("s.json");
        let child = tracebench()
            .args([
                "drive",
                "--url",
                &format!("http://{addr}/"),
                "--rate",
                "50",
                "--duration",
                "60s",
            ])
            .arg("--json")
            .arg(&json)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let pid = child.id().unwrap() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .expect("drive stops within the drain time after the signal")
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(v["partial"], true);
        let secs = v["duration_s"].as_f64().unwrap();
        assert!(secs > 0.5 && secs < 20.0, "measured {secs} s of a 60 s run");
        assert!(v["completed"].as_u64().unwrap() > 0);
    }
}
