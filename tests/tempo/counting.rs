//! Counting traces against a Tempo test double that behaves like Tempo v2.6.1, v2.9.5 and
//! v3.0.3 (see `tempo_double`): each count must equal the truth of the traffic the double
//! holds, per step and in total, by search (the default) on any window, and by TraceQL metrics
//! on step-aligned windows (elsewhere metrics may refuse, never miscount). The last tests pin the
//! double's answers themselves.

use std::time::{SystemTime, UNIX_EPOCH};
use testkit::net::now_s;

use crate::double::{
    AUTH, DoubleTrace, GATEWAY, TempoDouble, Version, traffic, truth, truth_complete,
};
use serde_json::Value;
use tracebench::traces::count::{CountMethod, CountRequest, TraceCounts, count_traces};
use tracebench::traces::tempo::TempoClient;

const NS: u64 = 1_000_000_000;

/// A minute boundary about two hours ago: old enough for every version's recent-data paths and
/// 3.0's end cutoff to be out of the way.
fn past_minute() -> u64 {
    (now_s() - 2 * 3600) / 60 * 60
}

fn request(start_s: u64, end_s: u64, step_s: u64, method: CountMethod) -> CountRequest {
    CountRequest {
        services: vec![GATEWAY.to_string()],
        complete_with: vec![],
        start_s,
        end_s,
        step_s,
        search_limit: 1000,
        method,
    }
}

/// The truth per step of `[start_s, end_s)`.
fn truth_steps(traces: &[DoubleTrace], start_s: u64, end_s: u64, step_s: u64) -> Vec<u64> {
    (start_s..end_s)
        .step_by(step_s as usize)
        .map(|a| truth(traces, Some(GATEWAY), a, (a + step_s).min(end_s)))
        .collect()
}

/// The truth TraceQL metrics answer from 2.9: their intervals are `(t - step, t]` (PR #5366),
/// so a step holds the root spans starting in `(a, b]`; before 2.9 it is search's `[a, b)`.
fn metrics_truth_steps(
    version: Version,
    traces: &[DoubleTrace],
    start_s: u64,
    end_s: u64,
    step_s: u64,
) -> Vec<u64> {
    if version == Version::V2_6 {
        return truth_steps(traces, start_s, end_s, step_s);
    }
    (start_s..end_s)
        .step_by(step_s as usize)
        .map(|a| {
            let b = (a + step_s).min(end_s);
            traces
                .iter()
                .filter_map(|t| t.root())
                .filter(|r| r.service == GATEWAY && a * NS < r.start_ns && r.start_ns <= b * NS)
                .count() as u64
        })
        .collect()
}

/// The truth `method` answers on `version`.
fn expected_steps(
    version: Version,
    method: CountMethod,
    traces: &[DoubleTrace],
    (start_s, end_s, step_s): (u64, u64, u64),
) -> Vec<u64> {
    match method {
        CountMethod::Search => truth_steps(traces, start_s, end_s, step_s),
        CountMethod::Metrics => metrics_truth_steps(version, traces, start_s, end_s, step_s),
    }
}

/// Traffic around a window: 90 s either side, so every edge has neighbours to miscount.
fn around(start_s: u64, end_s: u64, per_second: u64, seed: u64) -> Vec<DoubleTrace> {
    traffic((start_s - 90) * NS, (end_s + 90) * NS, per_second, seed)
}

async fn count(double: &TempoDouble, request: &CountRequest) -> Result<TraceCounts, String> {
    let client = TempoClient::new(&double.url).unwrap();
    count_traces(&client, request)
        .await
        .map_err(|e| e.to_string())
}

/// Counts by `method` and asserts per-step and total counts equal the truth.
async fn assert_exact(
    version: Version,
    traces: Vec<DoubleTrace>,
    start_s: u64,
    end_s: u64,
    step_s: u64,
    method: CountMethod,
) {
    let expected = expected_steps(version, method, &traces, (start_s, end_s, step_s));
    let double = TempoDouble::start(version, traces).await;
    let request = request(start_s, end_s, step_s, method);
    let counts = count(&double, &request).await.unwrap_or_else(|e| {
        panic!(
            "{version:?} {method:?} [{start_s}, {end_s}) by {step_s}: {e}\nrequests: {:#?}",
            double.requests()
        )
    });
    let got = &counts.services[0];
    assert_eq!(
        (&got.per_step, got.total),
        (&expected, expected.iter().sum::<u64>()),
        "{version:?} {method:?} [{start_s}, {end_s}) by {step_s}: (per step, total) counted vs \
         truth; requests: {:#?}",
        double.requests()
    );
}

/// Metrics either count exactly or refuse; a wrong Ok is a failure.
async fn assert_exact_or_refused(
    version: Version,
    traces: Vec<DoubleTrace>,
    start_s: u64,
    end_s: u64,
    step_s: u64,
) {
    let method = CountMethod::Metrics;
    let expected = expected_steps(version, method, &traces, (start_s, end_s, step_s));
    let double = TempoDouble::start(version, traces).await;
    let request = request(start_s, end_s, step_s, method);
    match count(&double, &request).await {
        Err(_) => {}
        Ok(counts) => {
            let got = &counts.services[0];
            assert_eq!(
                (&got.per_step, got.total),
                (&expected, expected.iter().sum::<u64>()),
                "{version:?} metrics [{start_s}, {end_s}) by {step_s} answered Ok with a wrong \
                 count (per step, total) vs truth; requests: {:#?}",
                double.requests()
            );
        }
    }
}

/// (a) a 21 s window off the minute boundary, two hours ago.
fn window_a() -> (u64, u64, u64) {
    let start = past_minute() + 17;
    (start, start + 21, 10)
}

/// (b) a 40 s window, unaligned.
fn window_b() -> (u64, u64, u64) {
    let start = past_minute() - 600 + 43;
    (start, start + 40, 60)
}

/// (c) two minutes on minute boundaries.
fn window_c() -> (u64, u64, u64) {
    let start = past_minute() - 1200;
    (start, start + 120, 60)
}

/// Counts window `window` of traffic drawn with `seed` by `method`, against the truth.
async fn exact_on(version: Version, window: (u64, u64, u64), seed: u64, method: CountMethod) {
    let (s, e, step) = window;
    assert_exact(version, around(s, e, 50, seed), s, e, step, method).await;
}

async fn search_a(version: Version) {
    exact_on(version, window_a(), 1, CountMethod::Search).await;
}

async fn search_b(version: Version) {
    exact_on(version, window_b(), 2, CountMethod::Search).await;
}

async fn search_c(version: Version) {
    exact_on(version, window_c(), 3, CountMethod::Search).await;
}

async fn metrics_c(version: Version) {
    exact_on(version, window_c(), 3, CountMethod::Metrics).await;
}

async fn metrics_a_b(version: Version) {
    let (s, e, step) = window_a();
    assert_exact_or_refused(version, around(s, e, 50, 1), s, e, step).await;
    let (s, e, step) = window_b();
    assert_exact_or_refused(version, around(s, e, 50, 2), s, e, step).await;
}

/// (d) `traces count --since 10m` with traffic up to now, through the CLI.
async fn since_10m_cli(version: Version) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let traces = traffic(now - 15 * 60 * NS, now, 20, 4);
    let double = TempoDouble::start(version, traces.clone()).await;
    let json = tempfile::NamedTempFile::new().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args(["traces", "count", "--tempo", &double.url])
        .args(["--service", GATEWAY, "--since", "10m", "--json"])
        .arg(json.path())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{version:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Value = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    let (start_s, end_s) = (
        counts["start_s"].as_u64().unwrap(),
        counts["end_s"].as_u64().unwrap(),
    );
    let total = counts["services"][0]["total"].as_u64().unwrap();
    let step_s = counts["step_s"].as_u64().unwrap();
    let expected = truth(&traces, Some(GATEWAY), start_s, end_s);
    let per_step: Vec<u64> = counts["services"][0]["per_step"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        (per_step, total),
        (truth_steps(&traces, start_s, end_s, step_s), expected),
        "{version:?}: --since 10m over [{start_s}, {end_s}) (per step, total) vs truth; \
         requests: {:#?}",
        double.requests()
    );
}

/// (f) completeness: some traces lack the auth span, some the gateway span.
async fn completeness(version: Version) {
    let (s, e, step) = window_c();
    let mut traces = around(s, e, 50, 6);
    for (i, trace) in traces.iter_mut().enumerate() {
        if i % 7 == 2 {
            trace.spans.retain(|sp| sp.service != AUTH);
        } else if i % 11 == 5 {
            // The root never arrived: the child alone, rooted nowhere.
            trace.spans.retain(|sp| sp.service != GATEWAY);
        }
    }
    let services = [GATEWAY, AUTH];
    let (complete, incomplete) = truth_complete(&traces, Some(GATEWAY), s, e, &services);
    assert!(complete > 0 && incomplete > 0);
    let expected_total = truth(&traces, Some(GATEWAY), s, e);
    let double = TempoDouble::start(version, traces).await;
    let mut req = request(s, e, step, CountMethod::Search);
    req.complete_with = services.iter().map(|s| s.to_string()).collect();
    let counts = count(&double, &req)
        .await
        .unwrap_or_else(|err| panic!("{version:?}: {err}"));
    let got = &counts.services[0];
    assert_eq!(
        (got.total, got.complete, got.incomplete),
        (expected_total, Some(complete), Some(incomplete)),
        "{version:?}: (total, complete, incomplete) vs truth"
    );
}

/// (g) a search limit below one second's traffic still counts exactly.
async fn small_limit(version: Version) {
    let start = past_minute() + 5;
    let (s, e, step) = (start, start + 20, 60);
    let traces = around(s, e, 50, 7);
    let expected = truth_steps(&traces, s, e, step);
    let double = TempoDouble::start(version, traces).await;
    let mut req = request(s, e, step, CountMethod::Search);
    req.search_limit = 10;
    let counts = count(&double, &req)
        .await
        .unwrap_or_else(|err| panic!("{version:?}: {err}"));
    assert_eq!(
        counts.services[0].per_step, expected,
        "{version:?}: limit 10 at 50/s"
    );
    assert!(
        double.requests().iter().any(|r| r.contains("limit=10&"))
            && double.requests().iter().any(|r| !r.contains("limit=10&")),
        "the limit grew: {:#?}",
        double.requests()
    );
    // A count needs no spans: it asks for one per span set, not Tempo's default three.
    assert!(
        double
            .requests()
            .iter()
            .filter(|r| r.starts_with("/api/search"))
            .all(|r| r.ends_with("&spss=1")),
        "{:#?}",
        double.requests()
    );
}

/// (i) 5,000 traces a second for 10 s, counted with the command's first limit (1,000).
async fn dense(version: Version) {
    let start = past_minute() + 30;
    let traces = traffic(start * NS, (start + 10) * NS, 5_000, 11);
    let (s, e) = (start - 30, start + 30);
    let expected = truth(&traces, Some(GATEWAY), s, e);
    assert_eq!(expected, 50_000);
    let double = TempoDouble::start(version, traces).await;
    let counts = count(&double, &request(s, e, 60, CountMethod::Search))
        .await
        .unwrap_or_else(|err| panic!("{version:?}: {err}"));
    assert_eq!(counts.services[0].total, expected, "{version:?}");
}

macro_rules! per_version {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v2_6() {
                $case(Version::V2_6).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v2_9() {
                $case(Version::V2_9).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v3_0() {
                $case(Version::V3_0).await
            }
        }
    };
}

per_version!(search_21s_unaligned, search_a);
per_version!(search_40s_unaligned, search_b);
per_version!(search_2m_aligned, search_c);
per_version!(search_since_10m_up_to_now_cli, since_10m_cli);
per_version!(metrics_2m_aligned_exact, metrics_c);
per_version!(metrics_unaligned_exact_or_refused, metrics_a_b);
per_version!(search_completeness, completeness);
per_version!(search_limit_grows, small_limit);
per_version!(search_5000_per_second, dense);

// ---------------------------------------------------------------------------------------------
// (h) The double's own answers
// ---------------------------------------------------------------------------------------------

/// `GET url path`: status and body.
async fn get(url: &str, path: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://").parse().unwrap();
    testkit::net::fetch(addr, path).await.unwrap()
}

async fn get_json(url: &str, path: &str) -> Value {
    let (status, body) = get(url, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn double_buildinfo_and_ready() {
    for version in Version::ALL {
        let double = TempoDouble::start(version, vec![]).await;
        let info = get_json(&double.url, "/api/status/buildinfo").await;
        assert_eq!(info["version"], version.tag());
        for key in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
            assert!(info[key].is_string(), "{version:?}: {key} in {info}");
        }
        assert_eq!(
            get(&double.url, "/ready").await,
            (200, "ready\n".to_string())
        );
        assert_eq!(get(&double.url, "/nope").await.0, 404);
    }
}

#[tokio::test]
async fn double_search_shapes() {
    let s = past_minute();
    let traces = traffic(s * NS, (s + 20) * NS, 5, 11);
    for version in Version::ALL {
        let double = TempoDouble::start(version, traces.clone()).await;
        let path = format!(
            "/api/search?q={}&start={s}&end={}&limit=1000",
            enc("{}"),
            s + 20
        );
        let answer = get_json(&double.url, &path).await;
        let found = answer["traces"].as_array().unwrap();
        assert_eq!(found.len(), traces.len(), "{version:?}: all 100 traces");
        for trace in &traces {
            let full: String = trace.id.iter().map(|b| format!("{b:02x}")).collect();
            let trimmed = full.trim_start_matches('0');
            let meta = found
                .iter()
                .find(|t| t["traceID"] == trimmed)
                .unwrap_or_else(|| panic!("{version:?}: {full} trimmed"));
            assert!(!meta["traceID"].as_str().unwrap().starts_with('0'));
            assert_eq!(
                meta["startTimeUnixNano"],
                Value::String(trace.start_ns().to_string()),
                "a string"
            );
            let duration_ms = (trace.end_ns() - trace.start_ns()) / 1_000_000;
            if duration_ms == 0 {
                assert!(
                    meta.get("durationMs").is_none(),
                    "left out when zero: {meta}"
                );
            } else {
                assert_eq!(meta["durationMs"], Value::from(duration_ms), "a number");
            }
            assert_eq!(meta["rootServiceName"], GATEWAY);
            assert_eq!(meta["rootTraceName"], "POST /api/auth/register");
            assert_eq!(meta["spanSets"][0], meta["spanSet"]);
            assert_eq!(meta["spanSet"]["matched"], 2);
            assert_eq!(
                meta["spanSet"]["spans"][0]["spanID"]
                    .as_str()
                    .unwrap()
                    .len(),
                16
            );
            let auth = &meta["serviceStats"][AUTH];
            assert_eq!(auth["spanCount"], 1);
            if trace.spans[1].error {
                assert_eq!(auth["errorCount"], 1);
            } else {
                assert!(auth.get("errorCount").is_none(), "{auth}");
            }
        }
        assert!(
            found
                .iter()
                .any(|t| t["traceID"].as_str().unwrap().len() < 32),
            "some ids trimmed"
        );
        assert!(found.iter().any(|t| t.get("durationMs").is_none()));
        let starts: Vec<u64> = found
            .iter()
            .map(|t| t["startTimeUnixNano"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "latest first");
        assert!(answer["metrics"]["inspectedBytes"].is_string());

        // Nothing in the window: an empty array, not a missing key.
        let path = format!(
            "/api/search?q={}&start={}&end={}",
            enc("{}"),
            s - 500,
            s - 400
        );
        let (status, body) = get(&double.url, &path).await;
        assert_eq!(status, 200);
        assert!(
            body.starts_with(r#"{"traces":[],"metrics":"#),
            "{version:?}: {body}"
        );

        // A limit below the matches: exactly `limit` traces, latest first.
        let path = format!(
            "/api/search?q={}&start={s}&end={}&limit=7",
            enc("{}"),
            s + 20
        );
        assert_eq!(
            get_json(&double.url, &path).await["traces"]
                .as_array()
                .unwrap()
                .len(),
            7
        );

        // Units and limits.
        let path = format!("/api/search?start={}&end={}", s * 1000, (s + 20) * 1000);
        let (status, body) = get(&double.url, &path).await;
        assert_eq!(status, 400, "milliseconds are not seconds");
        assert!(body.starts_with("invalid start"), "{body}");
        let path = format!("/api/search?start={s}&end={s}");
        assert_eq!(
            get(&double.url, &path).await.0,
            400,
            "end must be after start"
        );
        let path = format!("/api/search?start={s}&end={}&limit=0", s + 1);
        assert_eq!(get(&double.url, &path).await.0, 400);
        let path = format!("/api/search?start={s}&end={}&limit=300000", s + 1);
        let (status, body) = get(&double.url, &path).await;
        match version {
            Version::V2_6 => assert_eq!(status, 200, "no max limit in 2.6.1"),
            _ => assert_eq!(
                (status, body.as_str()),
                (400, "limit 300000 exceeds max limit 262144")
            ),
        }
        let path = format!(
            "/api/search?q={}&start={s}&end={}",
            enc("{ span.http.status_code = 500 }"),
            s + 1
        );
        assert_eq!(get(&double.url, &path).await.0, 400, "outside the subset");
    }
}

#[tokio::test]
async fn double_trace_by_id() {
    let s = past_minute();
    let traces = traffic(s * NS, (s + 2) * NS, 5, 12);
    for version in Version::ALL {
        let double = TempoDouble::start(version, traces.clone()).await;
        let trace = &traces[3];
        let hex: String = trace.id.iter().map(|b| format!("{b:02x}")).collect();
        let body = get_json(&double.url, &format!("/api/traces/{hex}")).await;
        let batches = body["batches"].as_array().unwrap();
        assert_eq!(batches.len(), 2);
        assert_eq!(
            batches[0]["resource"]["attributes"][0]["value"]["stringValue"],
            GATEWAY
        );
        let root = &batches[0]["scopeSpans"][0]["spans"][0];
        let child = &batches[1]["scopeSpans"][0]["spans"][0];
        assert!(root.get("parentSpanId").is_none());
        assert_eq!(child["parentSpanId"], root["spanId"]);
        assert_eq!(root["kind"], "SPAN_KIND_SERVER");
        assert_eq!(
            root["startTimeUnixNano"],
            Value::String(trace.spans[0].start_ns.to_string())
        );
        assert_eq!(
            root["traceId"].as_str().unwrap().len(),
            24,
            "base64 of 16 bytes"
        );

        let unknown = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            get(&double.url, &format!("/api/traces/{unknown}")).await,
            (404, String::new()),
            "{version:?}: 404 with an empty body"
        );
        assert_eq!(get(&double.url, "/api/traces/xyz").await.0, 400);
        let v2 = get_json(&double.url, &format!("/api/v2/traces/{unknown}")).await;
        assert_eq!(v2["trace"], serde_json::json!({}));
    }
}

#[tokio::test]
async fn double_query_range_shapes() {
    let s = past_minute() - 600;
    // Traffic from s+1: nothing in (s-60, s], the first 2.9 sample.
    let traces = traffic((s + 1) * NS, (s + 119) * NS, 5, 13);
    let q = enc(r#"{ resource.service.name = "api-gateway" && nestedSetParent = -1 }"#)
        + "%20%7C%20count_over_time()";
    for version in Version::ALL {
        let double = TempoDouble::start(version, traces.clone()).await;
        let path = format!(
            "/api/metrics/query_range?q={q}&start={s}&end={}&step=60s",
            s + 120
        );
        let answer = get_json(&double.url, &path).await;
        let series = answer["series"].as_array().unwrap();
        assert_eq!(series.len(), 1, "{version:?}: {answer}");
        assert_eq!(series[0]["labels"][0]["key"], "__name__");
        assert_eq!(
            series[0]["labels"][0]["value"]["stringValue"],
            "count_over_time"
        );
        assert_eq!(
            series[0].get("promLabels").is_some(),
            version == Version::V2_6
        );
        let samples = series[0]["samples"].as_array().unwrap();
        let stamps: Vec<u64> = samples
            .iter()
            .map(|x| x["timestampMs"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(stamps, [s * 1000, (s + 60) * 1000, (s + 120) * 1000]);
        let value = |i: usize| samples[i].get("value").map(|v| v.as_u64().unwrap());
        let count = |a: u64, b: u64| truth(&traces, Some(GATEWAY), a, b);
        match version {
            // [t, t+60): the last interval is past the traffic.
            Version::V2_6 => {
                assert_eq!(value(0), Some(count(s, s + 60)));
                assert_eq!(value(1), Some(count(s + 60, s + 120)));
                assert_eq!(value(2), None, "zero has no value key: {}", samples[2]);
            }
            // (t-60, t]: the first interval is before the traffic.
            _ => {
                assert_eq!(value(0), None, "zero has no value key: {}", samples[0]);
                assert!(value(1).is_some() && value(2).is_some());
                assert_eq!(value(1).unwrap() + value(2).unwrap(), traces.len() as u64);
            }
        }

        // A window inside one step: 2.6 aligns both ends to the same point and runs nothing.
        let path = format!(
            "/api/metrics/query_range?q={q}&start={}&end={}&step=60",
            s + 10,
            s + 50
        );
        let (status, body) = get(&double.url, &path).await;
        if version == Version::V2_6 {
            assert_eq!(
                (status, body.as_str()),
                (200, r#"{"series":[],"metrics":{}}"#)
            );
        } else {
            assert_eq!(status, 200, "{body}");
            let samples = serde_json::from_str::<Value>(&body).unwrap()["series"][0]["samples"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(samples, 2, "{version:?}: (s-60, s] and (s, s+60]");
        }

        // end - start == step: 2.9 answers one sample at end; 3.0 (no instant=true) a range.
        let path = format!(
            "/api/metrics/query_range?q={q}&start={s}&end={}&step=60",
            s + 60
        );
        let answer = get_json(&double.url, &path).await;
        let samples = answer["series"][0]["samples"].as_array().unwrap();
        match version {
            Version::V2_9 => {
                assert_eq!(samples.len(), 1);
                assert_eq!(samples[0]["timestampMs"], ((s + 60) * 1000).to_string());
                // The instant interval is (start, end]: a span on the second `s + 60` is in.
                let left_open = traces
                    .iter()
                    .filter_map(|t| t.root())
                    .filter(|r| s * NS < r.start_ns && r.start_ns <= (s + 60) * NS)
                    .count() as u64;
                assert_eq!(samples[0]["value"], left_open);
            }
            Version::V3_0 => assert_eq!(samples.len(), 2),
            Version::V2_6 => assert_eq!(samples.len(), 2),
        }

        // end before start.
        let path = format!(
            "/api/metrics/query_range?q={q}&start={}&end={s}&step=60",
            s + 60
        );
        let status = get(&double.url, &path).await.0;
        assert_eq!(status, if version == Version::V2_6 { 500 } else { 400 });
    }
}

#[tokio::test]
async fn double_v3_clamps_recent_ends() {
    let now = now_s();
    let traces = traffic((now - 1200) * NS, now * NS, 2, 14);
    let path = format!(
        "/api/search?q={}&start={}&end={}&limit=5",
        enc("{}"),
        now - 20,
        now + 10
    );
    // 3.0: end clamped to now-30s, which puts start after it: start becomes now-15m.
    let double = TempoDouble::start(Version::V3_0, traces.clone()).await;
    let answer = get_json(&double.url, &path).await;
    let found = answer["traces"].as_array().unwrap();
    assert_eq!(found.len(), 5, "{answer}");
    for t in found {
        let start: u64 = t["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start <= (now - 29) * NS && start >= (now - 15 * 60 - 1) * NS);
    }
    // 2.9: the window as asked.
    let double = TempoDouble::start(Version::V2_9, traces.clone()).await;
    let answer = get_json(&double.url, &path).await;
    for t in answer["traces"].as_array().unwrap() {
        let start: u64 = t["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start >= (now - 21) * NS, "{t}");
    }
    // Metrics: 3.0's last sample is floor((now-30s)/step)*step.
    let q = enc(r#"{ resource.service.name = "api-gateway" && nestedSetParent = -1 }"#)
        + "%20%7C%20count_over_time()";
    let double = TempoDouble::start(Version::V3_0, traces).await;
    let path = format!(
        "/api/metrics/query_range?q={q}&start={}&end={}&step=10",
        now - 300,
        now + 60
    );
    let answer = get_json(&double.url, &path).await;
    let last: u64 = answer["series"][0]["samples"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["timestampMs"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let cut = now_s() - 30;
    assert!(
        last / 1000 <= cut / 10 * 10 && last / 1000 + 10 >= (now - 30) / 10 * 10,
        "last sample {last} vs now-30s {cut}"
    );
}

/// The findings' worked examples (A.2, A.3), on data with a different count in every minute:
/// minute m (of 1970) holds m - 14 root spans, for m in 15..=23.
#[tokio::test]
async fn double_query_range_worked_examples() {
    use crate::double::DoubleSpan;
    let mut traces = Vec::new();
    for m in 15u64..=23 {
        for j in 0..m - 14 {
            let mut id = [0x42u8; 16];
            id[0] = m as u8;
            id[1] = j as u8;
            traces.push(DoubleTrace {
                id,
                spans: vec![DoubleSpan {
                    service: GATEWAY.into(),
                    name: "POST /api/auth/register".into(),
                    root: true,
                    start_ns: (m * 60 + 5 + j) * NS,
                    duration_ns: 3_000_000,
                    error: false,
                }],
            });
        }
    }
    let q = enc(r#"{ nestedSetParent < 0 && resource.service.name = "api-gateway" }"#)
        + "%20%7C%20count_over_time()";
    let samples = |answer: Value| -> Vec<(u64, u64)> {
        answer["series"][0]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["timestampMs"].as_str().unwrap().parse::<u64>().unwrap() / 1000,
                    x.get("value").map_or(0, |v| v.as_u64().unwrap()),
                )
            })
            .collect()
    };
    for version in Version::ALL {
        let double = TempoDouble::start(version, traces.clone()).await;
        let ask = |start: u64, end: u64| {
            format!("/api/metrics/query_range?q={q}&start={start}&end={end}&step=1m")
        };
        match version {
            Version::V2_6 => {
                // Aligned: [t, t+60) stamped t, samples S..=E, the one at E covering [E, E+60)
                // (a backend job runs one step past the end).
                let got = samples(get_json(&double.url, &ask(960, 1320)).await);
                assert_eq!(
                    got,
                    [
                        (960, 2),
                        (1020, 3),
                        (1080, 4),
                        (1140, 5),
                        (1200, 6),
                        (1260, 7),
                        (1320, 8)
                    ]
                );
                // Unaligned start 1000 = 16*60 + 40: stamped S + i*60 carrying minute 17 + i;
                // the last one is past the backend job's end (floor(1300) + 60 = 1320): empty.
                let got = samples(get_json(&double.url, &ask(1000, 1300)).await);
                assert_eq!(
                    got,
                    [
                        (1000, 3),
                        (1060, 4),
                        (1120, 5),
                        (1180, 6),
                        (1240, 7),
                        (1300, 0)
                    ]
                );
            }
            _ => {
                // (t-60, t] stamped t, samples Sa..=Ea: 7 for both.
                let expected = [
                    (960, 1),
                    (1020, 2),
                    (1080, 3),
                    (1140, 4),
                    (1200, 5),
                    (1260, 6),
                    (1320, 7),
                ];
                assert_eq!(
                    samples(get_json(&double.url, &ask(960, 1320)).await),
                    expected
                );
                assert_eq!(
                    samples(get_json(&double.url, &ask(1000, 1300)).await),
                    expected
                );
                // Two minutes: 3 samples aligned, 4 unaligned.
                assert_eq!(
                    samples(get_json(&double.url, &ask(1200, 1320)).await).len(),
                    3
                );
                assert_eq!(
                    samples(get_json(&double.url, &ask(1210, 1330)).await).len(),
                    4
                );
            }
        }
    }
}
