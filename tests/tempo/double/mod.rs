//! A Tempo test double: an HTTP server that answers the endpoints tracebench uses the way
//! Grafana Tempo v2.6.1, v2.9.5 and v3.0.3 answer them, version by version.
//!
//! Every behaviour below was read from Tempo's source (the query-frontend, the TraceQL metrics
//! engine, the search sharder, the ingester / live-store and gogo jsonpb), not from its docs. Each
//! carries a citation `commit:path#Lstart-Lend`; the three commits are:
//!
//! | version | commit |
//! |---|---|
//! | v2.6.1 | `f97027a0d8b5dd48b3de3a6eff97d4a698506547` |
//! | v2.9.5 | `2762f702b8417971f2d063433b858194b00e8e9e` |
//! | v3.0.3 | `1900ed7bb5cad1a3edc285783d7d4ac4278337dc` |
//!
//! The storage is modelled, not emulated block by block:
//! - every stored trace is searchable once its ingester (2.x) or live-store (3.0) has cut it from
//!   the live traces: `trace_idle_period` after its last span was received (taken as its latest
//!   span end), at the next tick of the flush loop (ticks are counted from the double's start);
//! - the backend holds one block whose meta times are the data's first span start and last span
//!   end (in whole seconds), and the metrics-generator (2.x) / recent path (3.0) holds the same
//!   data, so which of the two answers a part of a metrics query is decided, as in Tempo, by the
//!   sharder's `query_backend_after` cutoff;
//! - the TraceQL understood is a small subset (see [`parse_traceql`]); anything else is answered
//!   with a 400 whose body starts with `tempo double:` (a real Tempo would accept many of them).
//!
//! The double's "now" is `SystemTime::now()`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Serialize, Serializer};

const NS: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
const MINUTE: u64 = 60 * NS;
const HOUR: u64 = 60 * MINUTE;

/// The Tempo release whose behaviour the double reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// v2.6.1
    V2_6,
    /// v2.9.5
    V2_9,
    /// v3.0.3
    V3_0,
}

impl Version {
    pub const ALL: [Version; 3] = [Version::V2_6, Version::V2_9, Version::V3_0];

    /// What `/api/status/buildinfo` reports as `version`: goreleaser sets
    /// `main.Version={{ .Version }}`, without the tag's leading "v"
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:.goreleaser.yml#L31-36).
    pub fn tag(self) -> &'static str {
        match self {
            Version::V2_6 => "2.6.1",
            Version::V2_9 => "2.9.5",
            Version::V3_0 => "3.0.3",
        }
    }

    pub fn commit(self) -> &'static str {
        match self {
            Version::V2_6 => "f97027a0d8b5dd48b3de3a6eff97d4a698506547",
            Version::V2_9 => "2762f702b8417971f2d063433b858194b00e8e9e",
            Version::V3_0 => "1900ed7bb5cad1a3edc285783d7d4ac4278337dc",
        }
    }

    /// The Go release of the build: the `go` directive of each tag's go.mod
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:go.mod#L3;
    /// 2762f702b8417971f2d063433b858194b00e8e9e:go.mod#L3; 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:go.mod#L3).
    fn go_version(self) -> &'static str {
        match self {
            Version::V2_6 => "go1.22.4",
            Version::V2_9 | Version::V3_0 => "go1.26.5",
        }
    }

    /// `query_frontend.search.max_result_limit`, 0 = unlimited:
    /// 0 in 2.6.1 (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L74),
    /// 262144 in 2.9.5 (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/config.go#L94;
    /// changed in 2.9.2, 2762f702b8417971f2d063433b858194b00e8e9e:CHANGELOG.md#L36) and 3.0.3
    /// (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L105).
    fn search_max_limit(self) -> u32 {
        match self {
            Version::V2_6 => 0,
            Version::V2_9 | Version::V3_0 => 262_144,
        }
    }

    /// Metrics `max_duration`: 3h in 2.x, 24h in 3.0
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L86-95;
    /// 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/config.go#L108-117;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L120-130).
    fn metrics_max_duration(self) -> u64 {
        match self {
            Version::V2_6 | Version::V2_9 => 3 * HOUR,
            Version::V3_0 => 24 * HOUR,
        }
    }

    /// Metrics `query_backend_after`: 30m in 2.x, 15m in 3.0
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L89;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L123).
    fn metrics_backend_after(self) -> u64 {
        match self {
            Version::V2_6 | Version::V2_9 => 30 * MINUTE,
            Version::V3_0 => 15 * MINUTE,
        }
    }

    /// How long after its last span a trace becomes searchable, and the period of the loop that
    /// cuts idle traces into the searched blocks (live traces are not searched).
    /// - 2.6.1 ingester: trace_idle_period 10s, flush_check_period 10s
    ///   (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/ingester/config.go#L43,L47;
    ///   ticker f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/ingester/ingester.go#L140;
    ///   search covers head/completing/complete blocks only,
    ///   f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/ingester/instance_search.go#L117-164).
    ///   The generator's local-blocks use the same 10s/10s
    ///   (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/generator/processor/localblocks/config.go#L49-50).
    /// - 2.9.5 ingester: trace_idle_period 5s, flush_check_period 10s
    ///   (2762f702b8417971f2d063433b858194b00e8e9e:modules/ingester/config.go#L48,L54;
    ///   ticker 2762f702b8417971f2d063433b858194b00e8e9e:modules/ingester/flush.go#L157;
    ///   2762f702b8417971f2d063433b858194b00e8e9e:modules/ingester/instance_search.go#L134-166);
    ///   local-blocks 5s/10s
    ///   (2762f702b8417971f2d063433b858194b00e8e9e:modules/generator/processor/localblocks/config.go#L56-57).
    /// - 3.0.3 live-store: max_trace_idle 5s, flush_check_period 5s
    ///   (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/livestore/config.go#L106,L109;
    ///   ticker 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/livestore/live_store_background.go#L194;
    ///   head/wal/complete blocks searched,
    ///   1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/livestore/instance_search.go#L85-150).
    fn idle_and_tick(self) -> (u64, u64) {
        match self {
            Version::V2_6 => (10 * NS, 10 * NS),
            Version::V2_9 => (5 * NS, 10 * NS),
            Version::V3_0 => (5 * NS, 5 * NS),
        }
    }
}

/// One span of a stored trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleSpan {
    pub service: String,
    pub name: String,
    /// A root span has no parent (vParquet4 stores its nestedSetParent as -1).
    pub root: bool,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub error: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleTrace {
    pub id: [u8; 16],
    pub spans: Vec<DoubleSpan>,
}

impl DoubleTrace {
    /// The trace's start: its earliest span start.
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0)
    }

    pub fn end_ns(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_ns + s.duration_ns)
            .max()
            .unwrap_or(0)
    }

    /// The first root span, if any.
    pub fn root(&self) -> Option<&DoubleSpan> {
        self.spans.iter().find(|s| s.root)
    }
}

/// A running double; the server stops when this is dropped.
pub struct TempoDouble {
    pub url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TempoDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TempoDouble {
    pub async fn start(version: Version, traces: Vec<DoubleTrace>) -> TempoDouble {
        let started_ns = now_ns();
        let state = Arc::new(State::new(version, traces, started_ns));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let reply = state.handle(&req);
                        let mut response = http::Response::builder().status(reply.status);
                        if let Some(kind) = reply.content_type {
                            response = response.header("content-type", kind);
                        }
                        let response = response.body(Full::new(Bytes::from(reply.body))).unwrap();
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TempoDouble {
            url: format!("http://{addr}"),
            state,
            server,
        }
    }

    /// `path?query` of each request seen, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic and truth
// ---------------------------------------------------------------------------------------------

pub const GATEWAY: &str = "api-gateway";
pub const AUTH: &str = "user-auth-service";

/// `per_second` traces in each second between `start_ns` (inclusive) and `end_ns` (exclusive):
/// a gateway root span `POST /api/auth/register` and a child `user.UserService/Register` in
/// `user-auth-service`, spread over each second. In one second of three
/// (`(s + s / 60) % 3 == 0`) the first starts exactly on the second. Ids are pseudo-random
/// from `seed`; every 10th starts with a zero byte and every 10th (another) with two, so
/// Tempo's trimming of leading zeros shows. Every 13th trace lasts under a millisecond
/// (`durationMs` left out) and every 17th child span is an error.
pub fn traffic(start_ns: u64, end_ns: u64, per_second: u64, seed: u64) -> Vec<DoubleTrace> {
    let mut out = Vec::new();
    if per_second == 0 || end_ns <= start_ns {
        return out;
    }
    let mut rng = SplitMix(seed ^ 0x7e57_7e57);
    let slot = (NS / per_second).max(1);
    let mut n: u64 = 0;
    for second in start_ns / NS..=(end_ns - 1) / NS {
        // Exactly on the second in one second of three, a pattern that also moves from minute
        // to minute, so window edges sometimes have such a trace and sometimes not.
        let on_second = (second + second / 60) % 3 == 0;
        for k in 0..per_second {
            let jitter = rng.next() % slot;
            let offset = match (k, on_second) {
                (0, true) => 0,
                (0, false) => 1 + jitter % slot.saturating_sub(1).max(1),
                _ => k * slot + jitter,
            };
            let start = second * NS + offset.min(NS - 1);
            if start < start_ns || start >= end_ns {
                continue;
            }
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&rng.next().to_be_bytes());
            id[8..].copy_from_slice(&rng.next().to_be_bytes());
            id[15] |= 1; // never all zeros
            match n % 10 {
                3 => id[0] = 0,
                7 => {
                    id[0] = 0;
                    id[1] = 0;
                }
                _ => id[0] |= 0x10,
            }
            let root_duration = if n % 13 == 5 {
                300_000 + rng.next() % 600_000
            } else {
                2 * MS + rng.next() % (78 * MS)
            };
            out.push(DoubleTrace {
                id,
                spans: vec![
                    DoubleSpan {
                        service: GATEWAY.into(),
                        name: "POST /api/auth/register".into(),
                        root: true,
                        start_ns: start,
                        duration_ns: root_duration,
                        error: false,
                    },
                    DoubleSpan {
                        service: AUTH.into(),
                        name: "user.UserService/Register".into(),
                        root: false,
                        start_ns: start + root_duration / 10,
                        duration_ns: root_duration / 2,
                        error: n % 17 == 4,
                    },
                ],
            });
            n += 1;
        }
    }
    out
}

/// The truth: traces whose root span belongs to `root` (any trace, rooted or not, when `None`)
/// and whose start (earliest span start) lies in `[start_s, end_s)`.
pub fn truth(traces: &[DoubleTrace], root: Option<&str>, start_s: u64, end_s: u64) -> u64 {
    counted(traces, root, start_s, end_s).count() as u64
}

/// Of [`truth`]'s traces, those holding a span of every service in `services`, and the others.
pub fn truth_complete(
    traces: &[DoubleTrace],
    root: Option<&str>,
    start_s: u64,
    end_s: u64,
    services: &[&str],
) -> (u64, u64) {
    let (mut complete, mut incomplete) = (0, 0);
    for trace in counted(traces, root, start_s, end_s) {
        if services
            .iter()
            .all(|s| trace.spans.iter().any(|sp| sp.service == *s))
        {
            complete += 1;
        } else {
            incomplete += 1;
        }
    }
    (complete, incomplete)
}

fn counted<'a>(
    traces: &'a [DoubleTrace],
    root: Option<&'a str>,
    start_s: u64,
    end_s: u64,
) -> impl Iterator<Item = &'a DoubleTrace> + 'a {
    traces.iter().filter(move |t| {
        let rooted = match root {
            None => true,
            Some(service) => t.root().is_some_and(|r| r.service == service),
        };
        rooted && (start_s * NS..end_s * NS).contains(&t.start_ns())
    })
}

/// splitmix64: small, deterministic.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---------------------------------------------------------------------------------------------
// Stored data
// ---------------------------------------------------------------------------------------------

struct StoredSpan {
    span: DoubleSpan,
    id: [u8; 8],
    parent: Option<[u8; 8]>,
}

impl StoredSpan {
    fn end_ns(&self) -> u64 {
        self.span.start_ns + self.span.duration_ns
    }
}

struct Stored {
    id: [u8; 16],
    spans: Vec<StoredSpan>,
    start_ns: u64,
    end_ns: u64,
    /// When the trace was received (its last span end): trace-by-id finds it from then on,
    /// because the ingester / live-store look up live traces too
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/ingester/instance.go#L415-424;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/livestore/instance_search.go#L646-658).
    received_ns: u64,
    /// When search and metrics see it (see [`Version::idle_and_tick`]).
    visible_ns: u64,
}

impl Stored {
    fn root(&self) -> Option<&StoredSpan> {
        self.spans.iter().find(|s| s.parent.is_none())
    }
}

/// The backend's block meta: block start/end times in whole seconds (a meta's end time is
/// "rounded down to the nearest second",
/// 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L55-94).
#[derive(Clone, Copy)]
struct Block {
    start_ns: u64,
    end_ns: u64,
}

struct State {
    version: Version,
    traces: Vec<Stored>,
    seen: Mutex<Vec<String>>,
}

fn span_id(trace: &[u8; 16], index: u64) -> [u8; 8] {
    let mut seed = u64::from_be_bytes(trace[..8].try_into().unwrap())
        ^ u64::from_be_bytes(trace[8..].try_into().unwrap()).rotate_left(17)
        ^ index.wrapping_mul(0x9e37_79b9);
    let mut id = SplitMix(seed).next().to_be_bytes();
    if id == [0; 8] {
        seed += 1;
        id = SplitMix(seed).next().to_be_bytes();
    }
    id
}

impl State {
    fn new(version: Version, traces: Vec<DoubleTrace>, started_ns: u64) -> State {
        let (idle, tick) = version.idle_and_tick();
        let stored = traces
            .into_iter()
            .map(|trace| {
                let ids: Vec<[u8; 8]> = (0..trace.spans.len() as u64)
                    .map(|i| span_id(&trace.id, i))
                    .collect();
                let root_id = trace.spans.iter().position(|s| s.root).map(|i| ids[i]);
                // A child's parent is the root span; without a root, a parent that was never
                // received (the trace is "broken").
                let orphan_parent = span_id(&trace.id, u64::MAX);
                let start_ns = trace.start_ns();
                let end_ns = trace.end_ns();
                let cut_at = end_ns + idle;
                // First tick of the cutting loop at or after `cut_at`; ticks at started + k*tick.
                let since_start = cut_at as i128 - started_ns as i128;
                let ticks = since_start.div_euclid(tick as i128)
                    + i128::from(since_start.rem_euclid(tick as i128) != 0);
                let visible_ns = (started_ns as i128 + ticks * tick as i128) as u64;
                let spans = trace
                    .spans
                    .into_iter()
                    .zip(ids)
                    .map(|(span, id)| StoredSpan {
                        parent: if span.root {
                            None
                        } else {
                            Some(root_id.unwrap_or(orphan_parent))
                        },
                        span,
                        id,
                    })
                    .collect();
                Stored {
                    id: trace.id,
                    spans,
                    start_ns,
                    end_ns,
                    received_ns: end_ns,
                    visible_ns,
                }
            })
            .collect();
        State {
            version,
            traces: stored,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn visible(&self, now: u64) -> impl Iterator<Item = &Stored> {
        self.traces.iter().filter(move |t| t.visible_ns <= now)
    }

    /// The one backend block, over the data visible now.
    fn block(&self, now: u64) -> Option<Block> {
        let mut visible = self.visible(now).peekable();
        visible.peek()?;
        let (mut start, mut end) = (u64::MAX, 0);
        for t in visible {
            start = start.min(t.start_ns);
            end = end.max(t.end_ns);
        }
        Some(Block {
            start_ns: start / NS * NS,
            end_ns: end / NS * NS,
        })
    }

    fn handle(&self, req: &http::Request<hyper::body::Incoming>) -> Reply {
        let path = req.uri().path().to_string();
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let shown = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        self.seen.lock().unwrap().push(shown);
        let accept_protobuf = req
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/protobuf"));
        let query = Query::parse(&raw_query);
        let now = now_ns();
        match path.as_str() {
            // The readiness handler answers with http.Error(w, "ready", 200)
            // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:cmd/tempo/app/app.go#L198,L315-363).
            "/ready" => Reply::text(200, "ready\n"),
            "/api/status/buildinfo" => self.buildinfo(),
            "/api/search" => self.search(&query, &raw_query, now),
            "/api/metrics/query_range" => self.query_range(&query, now),
            _ => {
                let by_id = path
                    .strip_prefix("/api/traces/")
                    .map(|id| (id, false))
                    .or_else(|| path.strip_prefix("/api/v2/traces/").map(|id| (id, true)));
                if let Some((id, v2)) = by_id {
                    // Protobuf is sent for `Accept: application/protobuf`
                    // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/trace_by_id.go#L117-121);
                    // the double only speaks JSON.
                    if accept_protobuf {
                        return Reply::text(406, "tempo double: protobuf is not emulated\n");
                    }
                    return self.trace_by_id(id, v2, now);
                }
                // gorilla/mux's default NotFound handler.
                Reply::text(404, "404 page not found\n")
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // /api/status/buildinfo
    // -----------------------------------------------------------------------------------------

    /// `encoding/json` of Prometheus' `PrometheusVersion`, all keys present, then a newline
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:cmd/tempo/app/app.go#L540-552;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:cmd/tempo/app/app.go#L550-562;
    /// f97027a0d8b5dd48b3de3a6eff97d4a698506547:cmd/tempo/build/build.go#L28-37). goreleaser sets
    /// only Branch, Revision (`{{ .ShortCommit }}`) and Version
    /// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:.goreleaser.yml#L31-36), so buildUser and
    /// buildDate are empty strings.
    fn buildinfo(&self) -> Reply {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct BuildInfo {
            version: &'static str,
            revision: &'static str,
            branch: &'static str,
            build_user: &'static str,
            build_date: &'static str,
            go_version: &'static str,
        }
        let v = self.version;
        let mut body = serde_json::to_string(&BuildInfo {
            version: v.tag(),
            revision: &v.commit()[..7],
            branch: "HEAD",
            build_user: "",
            build_date: "",
            go_version: v.go_version(),
        })
        .unwrap();
        body.push('\n');
        Reply::json(200, body)
    }

    // -----------------------------------------------------------------------------------------
    // /api/traces/<id> and /api/v2/traces/<id>
    // -----------------------------------------------------------------------------------------

    fn trace_by_id(&self, raw: &str, v2: bool, now: u64) -> Reply {
        // Routes /api/traces/{traceID} and /api/v2/traces/{traceID}
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L74,L91): one path segment.
        if raw.is_empty() || raw.contains('/') {
            return Reply::text(404, "404 page not found\n");
        }
        // HexStringToTraceID: hex characters only, odd length padded with a leading 0, at most
        // 16 bytes, left-padded to 16; an error is a 400
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/util/traceid.go#L115-155;
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L105-118).
        let id = match hex_to_trace_id(raw) {
            Ok(id) => id,
            Err(e) => return Reply::text(400, e),
        };
        let found = self
            .traces
            .iter()
            .find(|t| t.id == id && t.received_ns <= now);
        let Some(trace) = found else {
            return if v2 {
                // The V2 querier never answers 404, so the frontend answers 200 with an empty
                // trace: no metrics in 2.6.1, `"metrics":{}` in 2.9 / 3.0
                // (2762f702b8417971f2d063433b858194b00e8e9e:modules/querier/http.go#L86-131;
                // f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/trace_by_id_v2.go#L8-33;
                // 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/combiner/trace_by_id_v2.go#L14-52).
                match self.version {
                    Version::V2_6 => Reply::json(200, r#"{"trace":{}}"#.into()),
                    _ => Reply::json(200, r#"{"trace":{},"metrics":{}}"#.into()),
                }
            } else {
                // The combiner starts at 404 and ignores shards' 404s; with no 200 the frontend
                // answers 404 with an empty body
                // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/trace_by_id.go#L36-56,L93-102;
                // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/combiner/trace_by_id.go#L108-121).
                Reply::empty(404)
            };
        };
        let batches = trace_batches(trace);
        if v2 {
            // TraceByIDResponse{trace{resourceSpans}, metrics{inspectedBytes}}: metrics exist
            // from 2.9 (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/tempo.proto#L57-62;
            // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/tempopb/tempo.proto#L64-73).
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct TraceV2 {
                resource_spans: Vec<Batch>,
            }
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct TraceMetrics {
                #[serde(serialize_with = "as_string")]
                inspected_bytes: u64,
            }
            #[derive(Serialize)]
            struct V2Body {
                trace: TraceV2,
                #[serde(skip_serializing_if = "Option::is_none")]
                metrics: Option<TraceMetrics>,
            }
            let metrics = (self.version != Version::V2_6).then(|| TraceMetrics {
                inspected_bytes: 512 * trace.spans.len() as u64,
            });
            let body = V2Body {
                trace: TraceV2 {
                    resource_spans: batches,
                },
                metrics,
            };
            return Reply::json(200, serde_json::to_string(&body).unwrap());
        }
        // jsonpb of tempopb.Trace with "resourceSpans" renamed "batches"
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/trace_utils.go#L14-22).
        #[derive(Serialize)]
        struct V1Body {
            batches: Vec<Batch>,
        }
        Reply::json(200, serde_json::to_string(&V1Body { batches }).unwrap())
    }

    // -----------------------------------------------------------------------------------------
    // /api/search
    // -----------------------------------------------------------------------------------------

    fn search(&self, query: &Query, raw_query: &str, now: u64) -> Reply {
        let v = self.version;
        let bad = |msg: String| Reply::text(400, msg);
        // ParseSearchRequest: start/end are integer unix seconds, ParseInt(s, 10, 32) in 2.x and
        // ParseUint(s, 10, 32) in 3.0; anything else is "invalid start"
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L129-143;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/api/http.go#L134-148;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L164-178). An error from
        // the parse is a 400 with its text (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/search_handlers.go#L92-101).
        let seconds = |name: &str| -> Result<u32, String> {
            match query.get(name) {
                None => Ok(0),
                Some(s) => match v {
                    Version::V3_0 => go_parse_uint(s, 32, "ParseUint").map(|n| n as u32),
                    _ => go_parse_int(s, 32, "ParseInt").map(|n| n as u32),
                }
                .map_err(|e| format!("invalid {name}: {e}")),
            }
        };
        let start = match seconds("start") {
            Ok(s) => s,
            Err(e) => return bad(e),
        };
        let end = match seconds("end") {
            Ok(s) => s,
            Err(e) => return bad(e),
        };
        let q = query.get("q");
        // 2.x validates q in the parse, except the literal "{}"
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L145-155); 3.0 parses it
        // when building the combiner (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/search_handlers.go#L145-160).
        let parse_q = || -> Result<Filter, String> {
            match q {
                None => Ok(Filter::default()),
                Some(text) => match parse_traceql(text) {
                    Ok((filter, false)) => Ok(filter),
                    Ok((_, true)) => Err(format!(
                        "invalid TraceQL query: tempo double: a metrics query cannot search: {text}"
                    )),
                    Err(e) => Err(format!("invalid TraceQL query: {e}")),
                },
            }
        };
        let mut filter = Filter::default();
        if v != Version::V3_0 {
            match parse_q() {
                Ok(f) => filter = f,
                Err(e) => return bad(e),
            }
        }
        // limit: Atoi and <= 0 rejected in 2.x, ParseUint and == 0 rejected in 3.0
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L224-233;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L250-261).
        let mut limit: u32 = 0;
        if let Some(s) = query.get("limit") {
            match v {
                Version::V3_0 => match go_parse_uint(s, 32, "ParseUint") {
                    Err(e) => return bad(format!("invalid limit: {e}")),
                    Ok(0) => return bad("invalid limit: must be a positive number".into()),
                    Ok(n) => limit = n as u32,
                },
                _ => match go_parse_int(s, 64, "Atoi") {
                    Err(e) => return bad(format!("invalid limit: {e}")),
                    Ok(n) if n <= 0 => {
                        return bad("invalid limit: must be a positive number".into());
                    }
                    Ok(n) => limit = n as u32,
                },
            }
        }
        // spss: spans per span set, default 3 (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L101,L235-244).
        let mut spss: u32 = 3;
        if let Some(s) = query.get("spss") {
            match v {
                Version::V3_0 => match go_parse_uint(s, 32, "ParseUint") {
                    Err(e) => return bad(format!("invalid spss: {e}")),
                    Ok(n) => spss = n as u32,
                },
                _ => match go_parse_int(s, 64, "Atoi") {
                    Err(e) => return bad(format!("invalid spss: {e}")),
                    Ok(n) if n <= 0 => {
                        return bad("invalid spss: must be a positive number".into());
                    }
                    Ok(n) => spss = n as u32,
                },
            }
        }
        // "start and end == 0 is fine"; otherwise end must be after start
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L246-255;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L279-288).
        let order = |start: u32, end: u32| -> Result<(), String> {
            if !(start == 0 && end == 0) && end <= start {
                return Err(format!(
                    "http parameter start must be before end. received start={start} end={end}"
                ));
            }
            Ok(())
        };
        if let Err(e) = order(start, end) {
            return bad(e);
        }
        // adjustLimit: 0 becomes the default 20; above max_result_limit (when set) is a 400
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/search_handlers.go#L126-136;
        // 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/search_handlers.go#L152-163;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/search_handlers.go#L164-175;
        // default 20: f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L73).
        let max = v.search_max_limit();
        let limit = if limit == 0 { 20 } else { limit };
        if max != 0 && limit > max {
            return bad(format!("limit {limit} exceeds max limit {max}"));
        }
        // 3.0's newCombiner parses q after adjusting the limit
        // (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/search_handlers.go#L145-160).
        if v == Version::V3_0 {
            match parse_q() {
                Ok(f) => filter = f,
                Err(e) => return bad(e),
            }
        }
        let (mut start, mut end) = (start, end);
        if v == Version::V3_0 {
            // adjustEndWareSeconds runs before the sharder: with `since`, end = now-30s and
            // start = end-since; with neither start nor end, [now-15m, now-30s]; otherwise end is
            // clamped to now - query_end_cutoff (30s) and, if start is then after end, start
            // becomes now - query_backend_after (15m); both are rewritten as unix seconds
            // (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/frontend.go#L131,L155-168;
            // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/pipeline/async_adjust_start_end.go#L48-75;
            // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L570-619;
            // cutoff default 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L146;
            // 15m 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L103).
            let max_end = now as i128 - (30 * NS) as i128;
            let backend_after = now as i128 - (15 * MINUTE) as i128;
            let (s_ns, e_ns): (i128, i128) = if let Some(since) = query.get("since") {
                match prom_duration(since) {
                    Ok(d) => (max_end - d as i128, max_end),
                    Err(e) => {
                        return bad(format!(
                            "error parsing date range: could not parse 'since' parameter: {e}"
                        ));
                    }
                }
            } else {
                let (sv, ev) = (query.get("start"), query.get("end"));
                match (sv, ev) {
                    (None, None) => (backend_after, max_end),
                    (Some(_), None) | (None, Some(_)) => {
                        return bad("error parsing date range: only one of start and end \
                                    provided: must provide both or neither"
                            .into());
                    }
                    (Some(sv), Some(ev)) => {
                        let s = match parse_timestamp(sv, 0) {
                            Ok(t) => t as i128,
                            Err(e) => {
                                return bad(format!(
                                    "error parsing date range: could not parse 'start' parameter: {e}"
                                ));
                            }
                        };
                        let mut e = match parse_timestamp(ev, 0) {
                            Ok(t) => t as i128,
                            Err(e) => {
                                return bad(format!(
                                    "error parsing date range: could not parse 'end' parameter: {e}"
                                ));
                            }
                        };
                        let mut s = s;
                        if max_end < e {
                            e = max_end;
                            if s > e {
                                s = backend_after;
                            }
                        }
                        (s, e)
                    }
                }
            };
            // time.Unix() floors to the second; the sharder parses the rewritten values again
            // (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/search_sharder.go#L76-84).
            start = s_ns.div_euclid(NS as i128) as u32;
            end = e_ns.div_euclid(NS as i128) as u32;
            if let Err(e) = order(start, end) {
                return bad(e);
            }
        }
        // Search max_duration 168h (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/search_sharder.go#L89-93;
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L75).
        if (end.wrapping_sub(start) as u64) * NS > 168 * HOUR {
            return bad(format!(
                "range specified by start and end exceeds 168h0m0s. received start={start} end={end}"
            ));
        }

        // Which traces the jobs see. With a range, the ingesters / live-store take
        // [max(start, now-until), end] and the backend [start, min(end, now-15m)]
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/search_sharder.go#L204-231,L284-298;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/search_sharder.go#L200-221):
        // together the whole range, over data the model holds in both. Without a range (2.x
        // only), only the ingesters are searched; the double takes that as the traces received
        // in the last query_ingesters_until (30m,
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/config.go#L71-74).
        let ranged = !(start == 0 && end == 0);
        let (start_ns, end_ns) = (start as u64 * NS, end as u64 * NS);
        let mut inspected = 0u32;
        let mut matches: Vec<(&Stored, Vec<&StoredSpan>)> = Vec::new();
        for trace in self.visible(now) {
            // The trace-level filter keeps traces whose [start, end] overlaps
            // [start*1e9, end*1e9], both ends inclusive
            // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:tempodb/encoding/vparquet4/block_traceql.go#L2223-2233;
            // 2762f702b8417971f2d063433b858194b00e8e9e:tempodb/encoding/vparquet4/block_traceql.go#L2446-2456;
            // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:tempodb/encoding/vparquet4/block_traceql.go#L2555-2565;
            // inclusive predicate f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/parquetquery/predicates.go#L267-270).
            let inside = if ranged {
                trace.start_ns <= end_ns && trace.end_ns >= start_ns
            } else {
                trace.received_ns + 30 * MINUTE >= now
            };
            if !inside {
                continue;
            }
            inspected += 1;
            let spans: Vec<&StoredSpan> =
                trace.spans.iter().filter(|s| filter.matches(s)).collect();
            if !spans.is_empty() {
                matches.push((trace, spans));
            }
        }
        // Truncation: without `most_recent=true` the combiner keeps the first `limit` distinct
        // trace ids to arrive from any job, in completion order, and then quits
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/search.go#L24-35,L92-98;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/combine.go#L65-91). The double
        // makes that order arbitrary but repeatable: a hash of the trace id and the request.
        let salt = fnv(raw_query.as_bytes());
        matches.sort_by_key(|(t, _)| (fnv_with(salt, &t.id), t.id));
        matches.truncate(limit as usize);
        // The final list is sorted by start time, latest first
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/combine.go#L40-48;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/combine.go#L93-102).
        matches.sort_by(|(a, _), (b, _)| b.start_ns.cmp(&a.start_ns).then(a.id.cmp(&b.id)));
        let traces: Vec<TraceMeta> = matches
            .iter()
            .map(|(t, spans)| trace_meta(t, spans, &filter, spss))
            .collect();
        let jobs = u32::from(ranged) + 1;
        let metrics = JobMetrics {
            inspected_traces: inspected,
            inspected_bytes: 700 * inspected as u64,
            total_blocks: u32::from(ranged && self.block(now).is_some()),
            completed_jobs: jobs,
            total_jobs: jobs,
            total_block_bytes: if ranged {
                700 * self.traces.len() as u64
            } else {
                0
            },
            inspected_spans: 0,
        };
        // "traces" is always there: Metadata() returns a non-nil, possibly empty, slice
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/combine.go#L40-48;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/combine.go#L93-102,L115-121;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/combine.go#L93-102).
        #[derive(Serialize)]
        struct SearchBody {
            traces: Vec<TraceMeta>,
            metrics: JobMetrics,
        }
        Reply::json(
            200,
            serde_json::to_string(&SearchBody { traces, metrics }).unwrap(),
        )
    }

    // -----------------------------------------------------------------------------------------
    // /api/metrics/query_range
    // -----------------------------------------------------------------------------------------

    fn query_range(&self, query: &Query, now: u64) -> Reply {
        let v = self.version;
        // q wins over query (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L359-367;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/api/http.go#L365-373;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L319-327).
        let q = query
            .get("q")
            .or_else(|| query.get("query"))
            .unwrap_or("")
            .to_string();
        // start / end through parseTimestamp, defaults end = now and start = min(end, now) -
        // since (1h) (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L102,L507-574;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L507-545,L621-650). 2.x
        // ignores the error and keeps Go's zero time.Time for both
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L373-375;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/api/http.go#L379-381); 3.0 answers 400
        // (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L333-336).
        let (start, end) = match bounds(query, now) {
            Ok((s, e)) => (s as u64, e as u64),
            Err(e) => {
                if v == Version::V3_0 {
                    return Reply::text(400, e);
                }
                // time.Time{}.UnixNano(): the zero time's seconds times 1e9, wrapped.
                let zero = (-62_135_596_800i64).wrapping_mul(NS as i64) as u64;
                (zero, zero)
            }
        };
        // step: float seconds, else a Go duration; missing: DefaultQueryRangeStep
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L576-596;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L652-672).
        let step = match query.get("step") {
            None => default_step(v, start, end),
            Some(s) => match seconds_or_duration(s) {
                Ok(d) => d as u64,
                Err(e) => return Reply::text(400, e),
            },
        };
        let parsed = parse_traceql(&q);
        match v {
            Version::V2_6 => self.query_range_26(parsed, start, end, step, now),
            Version::V2_9 | Version::V3_0 => {
                let instant_param = query.get("instant").and_then(go_parse_bool);
                self.query_range_29(parsed, start, end, step, instant_param, now)
            }
        }
    }

    /// v2.6.1.
    fn query_range_26(
        &self,
        parsed: Result<(Filter, bool), String>,
        start: u64,
        end: u64,
        step: u64,
        now: u64,
    ) -> Reply {
        // The HTTP handler builds its combiner from its own, unaligned parse; a combiner error is
        // a 500 (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/metrics_query_range_handler.go#L73,L85-94),
        // checked in CompileMetricsQueryRangeNonRaw
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L694-706).
        let internal = |msg: &str| Reply::text(500, msg.to_string());
        if start == 0 {
            return internal("start required");
        }
        if end == 0 {
            return internal("end required");
        }
        if end <= start {
            return internal("end must be greater than start");
        }
        if step == 0 {
            return internal("step required");
        }
        let filter = match parsed {
            Ok((filter, true)) => filter,
            Ok((_, false)) => return internal("not a metrics query"),
            Err(e) => return Reply::text(400, format!("compiling query: {e}")),
        };
        // The sharder aligns its copy: AlignRequest floors start and end to the step unless
        // end-start == step ("instant")
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L133-149;
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/metrics_query_range_sharder.go#L86),
        // then checks max_duration on the aligned range
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/metrics_query_range_sharder.go#L86-94).
        let mut req = Range26 { start, end, step };
        req.align();
        let max = self.version.metrics_max_duration();
        if max != 0 && req.end.wrapping_sub(req.start) as i64 > max as i64 {
            return Reply::text(
                400,
                format!(
                    "range specified by start and end ({}) exceeds {}. received start={} end={}",
                    go_duration(req.end.wrapping_sub(req.start) as i64),
                    go_duration(max as i64),
                    req.start,
                    req.end
                ),
            );
        }
        let data = self.span_starts(&filter, now);
        let cutoff = now - self.version.metrics_backend_after();
        let mut jobs: Vec<Vec<(i64, u64)>> = Vec::new();
        let mut metrics = JobMetrics::default();
        // The generator ("recent") request: TrimToAfter(cutoff), realigned; skipped when start
        // == end (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/metrics_query_range_sharder.go#L294-300;
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L115-130).
        let mut recent = req;
        recent.trim_after(cutoff);
        if recent.start != recent.end {
            match job_26(recent.start, recent.end, recent.step, &data) {
                Some(samples) => jobs.push(samples),
                None => return too_many(),
            }
        }
        // Backend requests: TrimToBefore(cutoff), realigned; skipped when start == end; one job
        // per overlapping block, trimmed with TrimToOverlap (start floored, end floored plus one
        // step) (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/metrics_query_range_sharder.go#L173-200,L243-247;
        // f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L77-113).
        if req.start != 0 && req.end != 0 {
            let mut backend = req;
            backend.trim_before(cutoff);
            if backend.start != backend.end
                && let Some(block) = self.block(now)
                && block.start_ns <= backend.end
                && block.end_ns >= backend.start
            {
                metrics.count_block(self.traces.len());
                let (s, e, st) = trim_to_overlap_26(
                    backend.start,
                    backend.end,
                    backend.step,
                    block.start_ns,
                    block.end_ns,
                );
                if s != e && st != 0 {
                    match job_26(s, e, st, &data) {
                        Some(samples) => jobs.push(samples),
                        None => return too_many(),
                    }
                }
            }
        }
        metrics.count_completed(jobs.len(), data.len());
        // The frontend combiner (unaligned start S, end E): IntervalCount(S, E, T) samples, a job
        // sample at ms goes to IntervalOfMs(ms, S, E, T) = (ts - S_ms)/T when S_ms <= ts <= E_ms
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L47-75,L1033-1070),
        // and output sample i is stamped S + i*T, as UnixMilli
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L225-249).
        // With an unaligned start this drops the aligned first bucket and shifts the others by
        // one: a documented consequence of the handler's unaligned combiner.
        let mut series = Vec::new();
        if !jobs.is_empty() {
            let count = (end - start) / step + 1;
            if count > MAX_INTERVALS {
                return too_many();
            }
            let mut values = vec![0u64; count as usize];
            let (start_ms, end_ms) = (start - start % MS, end - end % MS);
            for (ms, value) in jobs.iter().flatten() {
                let ts = (*ms as u64).wrapping_mul(MS);
                if ts < start_ms || ts > end_ms || end_ms == start_ms {
                    continue;
                }
                let j = (ts - start_ms) / step;
                if j < count {
                    values[j as usize] += value;
                }
            }
            let samples = (0..count)
                .map(|i| start + i * step)
                .filter(|ts| *ts >= start && *ts <= end)
                .zip(values)
                .map(|(ts, value)| Sample {
                    timestamp_ms: (ts / MS) as i64,
                    value,
                })
                .collect();
            series.push(Series {
                labels: vec![KeyValue::string("__name__", "count_over_time")],
                samples,
                // 2.6.1 still has prom_labels (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/tempo.proto#L425-439;
                // f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L273-278).
                prom_labels: Some("{__name__=\"count_over_time\"}".into()),
            });
        }
        query_range_body(series, metrics)
    }

    /// v2.9.5 and v3.0.3.
    fn query_range_29(
        &self,
        parsed: Result<(Filter, bool), String>,
        start: u64,
        end: u64,
        step: u64,
        instant_param: Option<bool>,
        now: u64,
    ) -> Reply {
        let v = self.version;
        let bad = |msg: String| Reply::text(400, msg);
        // 2.9: "instant" is end-start == step; 3.0: the `instant` parameter, false when absent
        // (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L126-135;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_handler.go#L133-135;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L393-398;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L154-167).
        let flag = match v {
            Version::V3_0 => Some(instant_param.unwrap_or(false)),
            _ => None,
        };
        let mut req = Range29 {
            start,
            end,
            step,
            flag,
        };
        // validateQueryRangeReq: start after end, then max_intervals 10000
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_handler.go#L193-206;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_handler.go#L278-291;
        // 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/config.go#L137;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L144).
        if req.start > req.end {
            return bad("end must be greater than start".into());
        }
        if req.step == 0 || (req.end - req.start) / req.step > 10_000 {
            return bad(format!(
                "step of {} is too small, minimum step for given range is {}",
                go_duration(req.step as i64),
                go_duration(((req.end - req.start) / 10_000) as i64)
            ));
        }
        // 3.0 parses the query here (normalizeRequestExemplars,
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_handler.go#L141-143,L200-205).
        if v == Version::V3_0
            && let Err(e) = &parsed
        {
            return bad(e.clone());
        }
        // AlignRequest: start floored, end rounded up, then one more step before start
        // (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L137-182;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L169-227);
        // the handler aligns before building its combiner
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_handler.go#L101).
        req.align();
        if v == Version::V3_0 {
            // query_end_cutoff (30s) on the aligned end, then AlignEndToLeft
            // (1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_handler.go#L146-162;
            // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L187-198;
            // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/config.go#L146).
            let max_end = now - 30 * NS;
            if max_end < req.end {
                req.end = max_end;
                if !req.instant() && req.step != 0 {
                    req.end -= req.end % req.step;
                }
            }
        }
        // The combiner's checks; errors are 400s from 2.9
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_handler.go#L103-107;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_handler.go#L162-166;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L945-960).
        if req.start == 0 {
            return bad("start required".into());
        }
        if req.end == 0 {
            return bad("end required".into());
        }
        if req.end <= req.start {
            return bad("end must be greater than start".into());
        }
        let filter = match parsed {
            Ok((filter, true)) => filter,
            Ok((_, false)) => return bad("not a metrics query".into()),
            Err(e) => return bad(format!("compiling query: {e}")),
        };
        let combiner = req;
        // The sharder parses the request again (2.9: the original; 3.0: the one rewritten with
        // the aligned, clamped values), checks max_duration before aligning, and aligns
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_sharder.go#L95-108;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_sharder.go#L108-121).
        let mut sharded = match v {
            Version::V3_0 => combiner,
            _ => Range29 {
                start,
                end,
                step,
                flag,
            },
        };
        let max = v.metrics_max_duration();
        if sharded.end.wrapping_sub(sharded.start) as i64 > max as i64 {
            return bad(format!(
                "metrics query time range exceeds the maximum allowed duration of {}",
                go_duration(max as i64)
            ));
        }
        sharded.align();
        let data = self.span_starts(&filter, now);
        let cutoff = now - v.metrics_backend_after();
        let mut jobs: Vec<Vec<(i64, u64)>> = Vec::new();
        let mut metrics = JobMetrics::default();
        // Recent: TrimToAfter(cutoff), not realigned
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_sharder.go#L380-389;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:modules/frontend/metrics_query_range_sharder.go#L334-345).
        let mut recent = sharded;
        recent.trim(cutoff, true);
        if recent.start != recent.end {
            jobs.push(job_29(recent, &data));
        }
        // Backend: TrimToBefore(cutoff), one job per overlapping block, TrimToBlockOverlap
        // (2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/metrics_query_range_sharder.go#L237-262,L305-310;
        // 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L55-94;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L79-121;
        // block selection 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/frontend.go#L397-417).
        if sharded.start != 0 && sharded.end != 0 {
            let mut backend = sharded;
            backend.trim(cutoff, false);
            if backend.start != backend.end
                && let Some(block) = self.block(now)
                && block.start_ns <= backend.end
                && block.end_ns >= backend.start
            {
                metrics.count_block(self.traces.len());
                let trimmed = backend.trim_to_block(block);
                if trimmed.start != trimmed.end && trimmed.step != 0 {
                    jobs.push(job_29(trimmed, &data));
                }
            }
        }
        metrics.count_completed(jobs.len(), data.len());
        // The frontend maps each job sample with its interval mapper built from the combiner's
        // request: samples at t = S'+T .. E', each (t-T, t] (right-closed), or one sample at E
        // for an instant query, [S, E] (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L1544-1648;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L1730-1801).
        // count_over_time starts every interval at 0, so every interval is present once any job
        // ran (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L398-426,L1426-1433).
        let mut series = Vec::new();
        if !jobs.is_empty() {
            let mapper = Mapper::new(
                combiner.start,
                combiner.end,
                combiner.step,
                combiner.instant(),
            );
            let mut values = vec![0u64; mapper.count as usize];
            for (ms, value) in jobs.iter().flatten() {
                if let Some(i) = mapper.interval_ms(*ms) {
                    values[i as usize] += value;
                }
            }
            let samples: Vec<Sample> = values
                .into_iter()
                .enumerate()
                .map(|(i, value)| Sample {
                    timestamp_ms: (mapper.timestamp_of(i as u64) / MS) as i64,
                    value,
                })
                .collect();
            // A series with no sample is left out (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L315-331).
            if !samples.is_empty() {
                series.push(Series {
                    labels: vec![KeyValue::string("__name__", "count_over_time")],
                    samples,
                    // prom_labels was removed in 2.9 (607c7fb69662262bbb4462da1e2d91067dab6785:CHANGELOG.md#L17-19).
                    prom_labels: None,
                });
            }
        }
        query_range_body(series, metrics)
    }

    /// Start times of the spans a metrics query counts (count_over_time buckets each matching
    /// span by its start, f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L369-375;
    /// 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L507-513;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L561-567).
    fn span_starts(&self, filter: &Filter, now: u64) -> Vec<u64> {
        self.visible(now)
            .flat_map(|t| t.spans.iter())
            .filter(|s| filter.matches(s))
            .map(|s| s.span.start_ns)
            .collect()
    }
}

/// The double refuses to build more intervals than this (2.6.1 has no max_intervals).
const MAX_INTERVALS: u64 = 5_000_000;

fn too_many() -> Reply {
    Reply::text(
        500,
        "tempo double: refusing to build more than 5000000 intervals",
    )
}

fn query_range_body(series: Vec<Series>, metrics: JobMetrics) -> Reply {
    // QueryRangeResponse{series, metrics}; series is a non-nil slice, so `"series":[]` when
    // empty; metrics always present (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L299;
    // 2762f702b8417971f2d063433b858194b00e8e9e:modules/frontend/combiner/metrics_query_range.go#L57).
    #[derive(Serialize)]
    struct Body {
        series: Vec<Series>,
        metrics: JobMetrics,
    }
    Reply::json(
        200,
        serde_json::to_string(&Body { series, metrics }).unwrap(),
    )
}

// ---------------------------------------------------------------------------------------------
// TraceQL metrics time arithmetic
// ---------------------------------------------------------------------------------------------

/// A 2.6.1 request's range.
#[derive(Clone, Copy)]
struct Range26 {
    start: u64,
    end: u64,
    step: u64,
}

impl Range26 {
    /// IsInstant (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L133-135).
    fn instant(&self) -> bool {
        self.end.wrapping_sub(self.start) == self.step
    }

    /// AlignRequest (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L137-149).
    fn align(&mut self) {
        if self.instant() || self.step == 0 {
            return;
        }
        self.start = self.start / self.step * self.step;
        self.end = self.end / self.step * self.step;
    }

    /// TrimToBefore / TrimToAfter (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L97-131).
    fn trim_before(&mut self, before: u64) {
        let was = self.instant();
        self.start = self.start.min(before);
        self.end = self.end.min(before);
        if was {
            self.step = self.end.wrapping_sub(self.start);
        } else {
            self.align();
        }
    }

    fn trim_after(&mut self, after: u64) {
        let was = self.instant();
        self.start = self.start.max(after);
        self.end = self.end.max(after);
        if was {
            self.step = self.end.wrapping_sub(self.start);
        } else {
            self.align();
        }
    }
}

/// TrimToOverlap (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L77-95).
fn trim_to_overlap_26(
    start1: u64,
    end1: u64,
    step: u64,
    start2: u64,
    end2: u64,
) -> (u64, u64, u64) {
    let was = end1.wrapping_sub(start1) == step;
    let mut start = start1.max(start2);
    let mut end = end1.min(end2);
    let mut step = step;
    if was {
        step = end.wrapping_sub(start);
    } else {
        start = start / step * step;
        end = end / step * step + step;
    }
    (start, end, step)
}

/// One 2.6.1 job over [start, end): spans with start < s or >= e are skipped, IntervalCount =
/// (e-s)/step + 1 intervals, IntervalOf = (ts-s)/step, sample i stamped s + i*step
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L47-67,L949-955,L225-249).
/// Samples as (unix ms, value); None when there would be too many intervals.
fn job_26(start: u64, end: u64, step: u64, data: &[u64]) -> Option<Vec<(i64, u64)>> {
    let count = end.wrapping_sub(start) / step + 1;
    if count > MAX_INTERVALS {
        return None;
    }
    let mut values = vec![0u64; count as usize];
    for &ts in data {
        if ts < start || ts >= end {
            continue;
        }
        let i = (ts - start) / step;
        if i < count {
            values[i as usize] += 1;
        }
    }
    Some(
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (start + i as u64 * step, v))
            .filter(|(ts, _)| *ts >= start && *ts <= end)
            .map(|(ts, v)| ((ts / MS) as i64, v))
            .collect(),
    )
}

/// A 2.9.5 / 3.0.3 request's range; `flag` is 3.0's explicit instant flag.
#[derive(Clone, Copy)]
struct Range29 {
    start: u64,
    end: u64,
    step: u64,
    flag: Option<bool>,
}

fn align_start(start: u64, step: u64, instant: bool) -> u64 {
    if step == 0 {
        return 0;
    }
    if instant {
        return start;
    }
    start - start % step
}

fn align_end(end: u64, step: u64, instant: bool) -> u64 {
    if step == 0 {
        return 0;
    }
    if instant {
        return end;
    }
    match end % step {
        0 => end,
        m => end.wrapping_add(step - m),
    }
}

impl Range29 {
    /// 2.9: isInstant(start, end, step); 3.0: the flag
    /// (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L126-135;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L154-167).
    fn instant(&self) -> bool {
        self.flag
            .unwrap_or(self.end.wrapping_sub(self.start) == self.step)
    }

    /// AlignRequest (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L137-182;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L169-227).
    fn align(&mut self) {
        if self.instant() {
            return;
        }
        self.start = align_start(self.start, self.step, false);
        // 2.9's alignEnd asks isInstant again with the aligned start.
        let instant_now = self.flag.is_none() && self.end.wrapping_sub(self.start) == self.step;
        self.end = align_end(self.end, self.step, instant_now);
        if self.start > self.step {
            self.start -= self.step;
        }
    }

    /// TrimToAfter (`after == true`) / TrimToBefore, not realigned; a 2.9 instant request keeps
    /// its instant nature by changing step; 3.0 carries the flag instead
    /// (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L96-124;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L123-152).
    fn trim(&mut self, cutoff: u64, after: bool) {
        let was = self.instant();
        if after {
            self.start = self.start.max(cutoff);
            self.end = self.end.max(cutoff);
        } else {
            self.start = self.start.min(cutoff);
            self.end = self.end.min(cutoff);
        }
        if self.flag.is_none() && was {
            self.step = self.end.wrapping_sub(self.start);
        }
    }

    /// TrimToBlockOverlap (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L55-94;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L79-121).
    fn trim_to_block(&self, block: Block) -> Range29 {
        let was = self.end.wrapping_sub(self.start) == self.step;
        let mut start2 = block.start_ns - 1;
        let mut end2 = block.end_ns + NS;
        let mut out = *self;
        match self.flag {
            None => {
                let instant2 = end2.wrapping_sub(start2) == self.step;
                start2 = align_start(start2, self.step, instant2);
                let instant2 = end2.wrapping_sub(start2) == self.step;
                end2 = align_end(end2, self.step, instant2);
                if !was && end2.wrapping_sub(start2) == self.step {
                    end2 += 1;
                }
                out.start = self.start.max(start2);
                out.end = self.end.min(end2);
                if was {
                    out.step = out.end.wrapping_sub(out.start);
                }
            }
            Some(instant) => {
                start2 = align_start(start2, self.step, instant);
                end2 = align_end(end2, self.step, instant);
                out.start = self.start.max(start2);
                out.end = self.end.min(end2);
            }
        }
        out
    }
}

/// The interval mapper (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L1544-1648;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L1730-1801).
struct Mapper {
    instant: bool,
    start: u64,
    end: u64,
    step: u64,
    start_ms: u64,
    end_ms: u64,
    count: u64,
}

impl Mapper {
    fn new(start: u64, end: u64, step: u64, instant: bool) -> Mapper {
        let start_ms = start - start % MS;
        let end_ms = end - end % MS;
        if instant {
            return Mapper {
                instant,
                start,
                end,
                step,
                start_ms,
                end_ms,
                count: 1,
            };
        }
        let (s, e) = (align_start(start, step, false), align_end(end, step, false));
        Mapper {
            instant,
            start: s,
            end: e,
            step,
            start_ms: align_start(start_ms, step, false),
            end_ms: align_end(end_ms, step, false),
            count: (e - s).checked_div(step).unwrap_or(0),
        }
    }

    fn interval_of(&self, ts: u64, start: u64, end: u64) -> Option<u64> {
        if self.instant {
            return (ts >= start && ts <= end && end != start).then_some(0);
        }
        if !(ts > start && ts <= end && end != start && self.step != 0) {
            return None;
        }
        let offset = ts - start;
        let mut i = offset / self.step;
        if i * self.step == offset {
            i -= 1;
        }
        (i < self.count).then_some(i)
    }

    fn interval(&self, ts: u64) -> Option<u64> {
        self.interval_of(ts, self.start, self.end)
    }

    fn interval_ms(&self, ms: i64) -> Option<u64> {
        self.interval_of((ms as u64).wrapping_mul(MS), self.start_ms, self.end_ms)
    }

    fn timestamp_of(&self, i: u64) -> u64 {
        if self.instant {
            self.end
        } else {
            self.start + (i + 1) * self.step
        }
    }
}

/// One 2.9 / 3.0 job: spans with start <= s or > e are skipped
/// (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L1249-1254;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L1340-1345), bucketed
/// by the job's own mapper, every interval reported.
fn job_29(req: Range29, data: &[u64]) -> Vec<(i64, u64)> {
    let mapper = Mapper::new(req.start, req.end, req.step, req.instant());
    let mut values = vec![0u64; mapper.count.min(MAX_INTERVALS) as usize];
    for &ts in data {
        if ts <= req.start || ts > req.end {
            continue;
        }
        if let Some(i) = mapper.interval(ts)
            && (i as usize) < values.len()
        {
            values[i as usize] += 1;
        }
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| ((mapper.timestamp_of(i as u64) / MS) as i64, v))
        .collect()
}

/// DefaultQueryRangeStep
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/traceql/engine_metrics.go#L25-45;
/// 2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine_metrics.go#L33-53;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/traceql/engine_metrics.go#L35-77).
fn default_step(version: Version, start: u64, end: u64) -> u64 {
    let delta = end.wrapping_sub(start) as i64;
    let baseline = delta / 240;
    let second = NS as i64;
    match version {
        Version::V2_6 | Version::V2_9 => {
            let mut interval = baseline / (5 * second) * (5 * second);
            if interval < 5 * second {
                interval = baseline / second * second;
            }
            if interval < second {
                return NS;
            }
            interval as u64
        }
        Version::V3_0 => {
            if delta < 60 * second {
                let g = 50 * MS as i64;
                return if baseline > g {
                    (baseline / g * g) as u64
                } else {
                    g as u64
                };
            }
            for g in [3600, 300, 60, 15, 5, 1].map(|s| s * second) {
                if baseline > g {
                    return (baseline / g * g) as u64;
                }
            }
            NS
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TraceQL subset
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// `resource.service.name = "X"` or `.service.name = "X"`.
    Service(String),
    /// `nestedSetParent = -1` or `nestedSetParent < 0`: vParquet4 stores a root span's nested
    /// set parent as -1 (f97027a0d8b5dd48b3de3a6eff97d4a698506547:tempodb/encoding/vparquet4/nested_set_model.go#L8-11,L116-120;
    /// 2762f702b8417971f2d063433b858194b00e8e9e:tempodb/encoding/vparquet4/nested_set_model.go#L12,L120;
    /// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:tempodb/encoding/vparquet4/nested_set_model.go#L12,L120).
    Root,
}

/// A spanset filter: a span matches when every condition holds.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    conds: Vec<Cond>,
}

impl Filter {
    fn matches(&self, span: &StoredSpan) -> bool {
        self.conds.iter().all(|c| match c {
            Cond::Service(s) => span.span.service == *s,
            Cond::Root => span.parent.is_none(),
        })
    }

    fn service(&self) -> Option<&str> {
        self.conds.iter().find_map(|c| match c {
            Cond::Service(s) => Some(s.as_str()),
            Cond::Root => None,
        })
    }
}

/// Understands `{ cond && cond ... }` optionally followed by `| count_over_time()`, where a
/// condition is one of `resource.service.name = "X"`, `.service.name = "X"`,
/// `nestedSetParent = -1`, `nestedSetParent < 0`. Returns the filter and whether it is a
/// count_over_time metrics query.
fn parse_traceql(text: &str) -> Result<(Filter, bool), String> {
    let unsupported = || format!("tempo double: unsupported TraceQL: {text}");
    let tokens = tokenize(text).ok_or_else(unsupported)?;
    let mut it = tokens.iter().peekable();
    let mut next = || it.next().cloned();
    if next() != Some(Tok::Punct("{")) {
        return Err(unsupported());
    }
    let mut filter = Filter::default();
    let mut tok = next();
    if tok != Some(Tok::Punct("}")) {
        loop {
            let Some(Tok::Ident(name)) = tok else {
                return Err(unsupported());
            };
            let op = next();
            let value = next();
            let cond = match (name.as_str(), &op, &value) {
                (
                    "resource.service.name" | ".service.name",
                    Some(Tok::Punct("=")),
                    Some(Tok::Str(s)),
                ) => Cond::Service(s.clone()),
                ("nestedSetParent", Some(Tok::Punct("=")), Some(Tok::Int(-1)))
                | ("nestedSetParent", Some(Tok::Punct("<")), Some(Tok::Int(0))) => Cond::Root,
                _ => return Err(unsupported()),
            };
            filter.conds.push(cond);
            match next() {
                Some(Tok::Punct("&&")) => tok = next(),
                Some(Tok::Punct("}")) => break,
                _ => return Err(unsupported()),
            }
        }
    }
    match next() {
        None => Ok((filter, false)),
        Some(Tok::Punct("|")) => {
            let rest: Vec<Tok> = std::iter::from_fn(&mut next).collect();
            if rest
                == [
                    Tok::Ident("count_over_time".into()),
                    Tok::Punct("("),
                    Tok::Punct(")"),
                ]
            {
                Ok((filter, true))
            } else {
                Err(unsupported())
            }
        }
        Some(_) => Err(unsupported()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(&'static str),
    Ident(String),
    Str(String),
    Int(i64),
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '{' | '}' | '(' | ')' | '|' => {
                out.push(Tok::Punct(match c {
                    '{' => "{",
                    '}' => "}",
                    '(' => "(",
                    ')' => ")",
                    _ => "|",
                }));
                i += 1;
            }
            '<' if chars.get(i + 1) != Some(&'=') => {
                out.push(Tok::Punct("<"));
                i += 1;
            }
            '=' if !matches!(chars.get(i + 1), Some('~' | '=')) => {
                out.push(Tok::Punct("="));
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Tok::Punct("&&"));
                i += 2;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i)? {
                        '"' => break,
                        '\\' => {
                            s.push(*chars.get(i + 1)?);
                            i += 2;
                        }
                        ch => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '-' | '0'..='9' => {
                let from = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[from..i].iter().collect();
                out.push(Tok::Int(s.parse().ok()?));
            }
            _ if c.is_alphanumeric() || c == '.' || c == '_' => {
                let from = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '.' | '_' | ':'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[from..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// JSON shapes (gogo jsonpb: zero scalars and nil slices left out, 64-bit integers as strings,
// lowerCamel names; f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/common.go#L140-152;
// 2762f702b8417971f2d063433b858194b00e8e9e:vendor/github.com/gogo/protobuf/jsonpb/jsonpb.go#L315-341,L739-745)
// ---------------------------------------------------------------------------------------------

fn as_string<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string())
}

fn i64_as_string<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string())
}

fn zero_u64(v: &u64) -> bool {
    *v == 0
}

fn zero_u32(v: &u32) -> bool {
    *v == 0
}

fn zero_i64(v: &i64) -> bool {
    *v == 0
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AnyValue {
    string_value: String,
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: AnyValue,
}

impl KeyValue {
    fn string(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: AnyValue {
                string_value: value.into(),
            },
        }
    }
}

/// SearchMetrics (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/tempo.proto#L144-152;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/tempopb/tempo.proto#L164-172). The values are
/// the double's own bookkeeping, not Tempo's.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct JobMetrics {
    #[serde(skip_serializing_if = "zero_u32")]
    inspected_traces: u32,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    inspected_bytes: u64,
    #[serde(skip_serializing_if = "zero_u32")]
    total_blocks: u32,
    #[serde(skip_serializing_if = "zero_u32")]
    completed_jobs: u32,
    #[serde(skip_serializing_if = "zero_u32")]
    total_jobs: u32,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    total_block_bytes: u64,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    inspected_spans: u64,
}

impl JobMetrics {
    /// The one block a backend request overlaps: one job, and the block's (made-up) size.
    fn count_block(&mut self, traces: usize) {
        self.total_blocks = 1;
        self.total_jobs = 1;
        self.total_block_bytes = 700 * traces as u64;
    }

    /// The jobs that ran, and the spans (and made-up bytes) they inspected.
    fn count_completed(&mut self, jobs: usize, spans: usize) {
        self.completed_jobs = jobs as u32;
        if jobs > 0 {
            self.inspected_spans = spans as u64;
            self.inspected_bytes = 100 * spans as u64;
        }
    }
}

/// TraceSearchMetadata (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/tempo.proto#L114-142).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceMeta {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    root_service_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    root_trace_name: String,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    start_time_unix_nano: u64,
    #[serde(skip_serializing_if = "zero_u32")]
    duration_ms: u32,
    span_set: SpanSetOut,
    span_sets: Vec<SpanSetOut>,
    service_stats: BTreeMap<String, ServiceStats>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct SpanSetOut {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    spans: Vec<SpanOutSearch>,
    #[serde(skip_serializing_if = "zero_u32")]
    matched: u32,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct SpanOutSearch {
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    start_time_unix_nano: u64,
    #[serde(skip_serializing_if = "zero_u64", serialize_with = "as_string")]
    duration_nanos: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
}

impl Clone for KeyValue {
    fn clone(&self) -> Self {
        KeyValue::string(&self.key, &self.value.string_value)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceStats {
    #[serde(skip_serializing_if = "zero_u32")]
    span_count: u32,
    #[serde(skip_serializing_if = "zero_u32")]
    error_count: u32,
}

/// asTraceSearchMetadata (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine.go#L273-345).
fn trace_meta(trace: &Stored, matched: &[&StoredSpan], filter: &Filter, spss: u32) -> TraceMeta {
    // Root service and name: the root span's; an empty root service name becomes
    // "<root span not yet received>" in the frontend combiner
    // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:modules/frontend/combiner/search.go#L104-110;
    // f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/search/util.go#L15).
    let (root_service, root_name) = match trace.root() {
        Some(root) => (root.span.service.clone(), root.span.name.clone()),
        None => ("<root span not yet received>".to_string(), String::new()),
    };
    // Span attributes: those the query's conditions fetched, intrinsics left out; none for
    // `{}` (nil, so left out by jsonpb).
    let attributes = || -> Vec<KeyValue> {
        match filter.service() {
            Some(service) => vec![KeyValue::string("service.name", service)],
            None => Vec::new(),
        }
    };
    let shown = if spss == 0 {
        matched.len()
    } else {
        matched.len().min(spss as usize)
    };
    let spans: Vec<SpanOutSearch> = matched[..shown]
        .iter()
        .map(|s| SpanOutSearch {
            // SpanIDToHexString: 16 hex digits, not trimmed
            // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/util/traceid.go#L28-45).
            span_id: hex(&s.id),
            name: s.span.name.clone(),
            start_time_unix_nano: s.span.start_ns,
            duration_nanos: s.span.duration_ns,
            attributes: attributes(),
        })
        .collect();
    // spanSets always populated; spanSet = spanSets[0]
    // (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine.go#L330-335).
    let span_set = SpanSetOut {
        spans,
        matched: matched.len() as u32,
    };
    let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
    for s in &trace.spans {
        let stats = service_stats
            .entry(s.span.service.clone())
            .or_insert(ServiceStats {
                span_count: 0,
                error_count: 0,
            });
        stats.span_count += 1;
        stats.error_count += u32::from(s.span.error);
    }
    TraceMeta {
        // TraceIDToHexString trims leading zeros
        // (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/util/traceid.go#L17-26;
        // 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/util/traceid.go#L31-41).
        trace_id: hex(&trace.id).trim_start_matches('0').to_string(),
        root_service_name: root_service,
        root_trace_name: root_name,
        start_time_unix_nano: trace.start_ns,
        // uint32(DurationNanos / 1e6) (2762f702b8417971f2d063433b858194b00e8e9e:pkg/traceql/engine.go#L273-282).
        duration_ms: ((trace.end_ns - trace.start_ns) / MS) as u32,
        span_set: span_set.clone(),
        span_sets: vec![span_set],
        service_stats,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sample {
    #[serde(skip_serializing_if = "zero_i64", serialize_with = "i64_as_string")]
    timestamp_ms: i64,
    /// A zero count has no "value" key (jsonpb leaves out zero doubles).
    #[serde(skip_serializing_if = "zero_u64")]
    value: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Series {
    labels: Vec<KeyValue>,
    samples: Vec<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prom_labels: Option<String>,
}

/// ResourceSpans as the v1 endpoint shows them: one per service, base64 ids, the kind's enum
/// name, 64-bit times as strings (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/tempopb/trace/v1/trace.pb.go#L182,L231,L373-439).
/// Spans read back from parquet always carry a Status
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:tempodb/encoding/vparquet4/schema.go#L813-830).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Batch {
    resource: Resource,
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Serialize)]
struct Resource {
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeSpans {
    scope: Scope,
    spans: Vec<SpanOut>,
}

#[derive(Serialize)]
struct Scope {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanOut {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    name: String,
    kind: &'static str,
    #[serde(serialize_with = "as_string")]
    start_time_unix_nano: u64,
    #[serde(serialize_with = "as_string")]
    end_time_unix_nano: u64,
    status: Status,
}

#[derive(Serialize)]
struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
}

fn trace_batches(trace: &Stored) -> Vec<Batch> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut services: Vec<&str> = Vec::new();
    for s in &trace.spans {
        if !services.contains(&s.span.service.as_str()) {
            services.push(&s.span.service);
        }
    }
    services
        .into_iter()
        .map(|service| Batch {
            resource: Resource {
                attributes: vec![KeyValue::string("service.name", service)],
            },
            scope_spans: vec![ScopeSpans {
                scope: Scope {
                    name: service.to_string(),
                },
                spans: trace
                    .spans
                    .iter()
                    .filter(|s| s.span.service == service)
                    .map(|s| SpanOut {
                        trace_id: b64(&trace.id),
                        span_id: b64(&s.id),
                        parent_span_id: s.parent.map(|p| b64(&p)),
                        name: s.span.name.clone(),
                        kind: "SPAN_KIND_SERVER",
                        start_time_unix_nano: s.span.start_ns,
                        end_time_unix_nano: s.end_ns(),
                        status: Status {
                            code: s.span.error.then_some("STATUS_CODE_ERROR"),
                        },
                    })
                    .collect(),
            }],
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing and Go parsing rules
// ---------------------------------------------------------------------------------------------

struct Reply {
    status: u16,
    content_type: Option<&'static str>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: Some("application/json"),
            body,
        }
    }

    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            body: body.into(),
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: None,
            body: String::new(),
        }
    }
}

/// url.Values of a query string; `get` is Go's `vals.Get`, and like Tempo's
/// extractQueryParam an empty value counts as absent
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L719-722).
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty() && !p.contains(';'))
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                Some((unescape(k)?, unescape(v)?))
            })
            .collect();
        Query { pairs }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Go's QueryUnescape: `+` is a space, `%XX` a byte; a bad escape drops the pair.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_to_trace_id(id: &str) -> Result<[u8; 16], String> {
    for (i, c) in id.chars().enumerate() {
        if !c.is_ascii_hexdigit() {
            return Err(format!(
                "trace IDs can only contain hex characters: invalid character '{c}' at position {}",
                i + 1
            ));
        }
    }
    let padded = if id.len() % 2 == 1 {
        format!("0{id}")
    } else {
        id.to_string()
    };
    let bytes: Vec<u8> = (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).unwrap())
        .collect();
    if bytes.len() > 16 {
        return Err("trace IDs can't be larger than 128 bits".into());
    }
    let mut out = [0u8; 16];
    out[16 - bytes.len()..].copy_from_slice(&bytes);
    Ok(out)
}

fn fnv(bytes: &[u8]) -> u64 {
    fnv_with(0xcbf2_9ce4_8422_2325, bytes)
}

fn fnv_with(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// strconv.ParseInt(s, 10, bits) / Atoi.
fn go_parse_int(s: &str, bits: u32, func: &str) -> Result<i64, String> {
    let err = |kind: &str| format!("strconv.{func}: parsing {}: {kind}", go_quote(s));
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    let limit = 1u128 << (bits - 1);
    let magnitude: u128 = if digits.trim_start_matches('0').len() > 30 {
        u128::MAX
    } else {
        digits.parse().unwrap()
    };
    if (!neg && magnitude >= limit) || (neg && magnitude > limit) {
        return Err(err("value out of range"));
    }
    Ok(if neg {
        (magnitude as i128).wrapping_neg() as i64
    } else {
        magnitude as i64
    })
}

/// strconv.ParseUint(s, 10, bits).
fn go_parse_uint(s: &str, bits: u32, func: &str) -> Result<u64, String> {
    let err = |kind: &str| format!("strconv.{func}: parsing {}: {kind}", go_quote(s));
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    let magnitude: u128 = if s.trim_start_matches('0').len() > 30 {
        u128::MAX
    } else {
        s.parse().unwrap()
    };
    if magnitude >= 1u128 << bits {
        return Err(err("value out of range"));
    }
    Ok(magnitude as u64)
}

fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// parseTimestamp: "." → float seconds (fraction rounded to ms); integer of <= 10 characters →
/// seconds, longer → nanoseconds; else RFC3339Nano
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L549-574;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L621-650). Unix nanoseconds.
fn parse_timestamp(value: &str, default: i64) -> Result<i64, String> {
    if value.is_empty() {
        return Ok(default);
    }
    if value.contains('.')
        && let Ok(t) = value.parse::<f64>()
    {
        let s = t.trunc();
        let frac = ((t - s) * 1000.0).round() / 1000.0;
        return Ok((s as i64)
            .wrapping_mul(NS as i64)
            .wrapping_add((frac * NS as f64) as i64));
    }
    match go_parse_int(value, 64, "ParseInt") {
        Ok(n) if value.len() <= 10 => Ok(n.wrapping_mul(NS as i64)),
        Ok(n) => Ok(n),
        Err(e) => match chrono::DateTime::parse_from_rfc3339(value) {
            Ok(t) => t.timestamp_nanos_opt().ok_or(e),
            Err(_) => Err(e),
        },
    }
}

/// determineBounds (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L507-547;
/// 1900ed7bb5cad1a3edc285783d7d4ac4278337dc:pkg/api/http.go#L507-545).
fn bounds(query: &Query, now: u64) -> Result<(i64, i64), String> {
    let now = now as i64;
    let since = match query.get("since") {
        None => 3600 * NS as i64,
        Some(s) => prom_duration(s)
            .map(|d| d as i64)
            .map_err(|e| format!("could not parse 'since' parameter: {e}"))?,
    };
    let end = parse_timestamp(query.get("end").unwrap_or(""), now)
        .map_err(|e| format!("could not parse 'end' parameter: {e}"))?;
    let end_or_now = end.min(now);
    let start = parse_timestamp(query.get("start").unwrap_or(""), end_or_now - since)
        .map_err(|e| format!("could not parse 'start' parameter: {e}"))?;
    Ok((start, end))
}

/// parseSecondsOrDuration: float seconds, else time.ParseDuration
/// (f97027a0d8b5dd48b3de3a6eff97d4a698506547:pkg/api/http.go#L585-596). Nanoseconds.
fn seconds_or_duration(value: &str) -> Result<i64, String> {
    if let Ok(d) = value.parse::<f64>() {
        let ns = d * NS as f64;
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(value)
            ));
        }
        return Ok(ns as i64);
    }
    go_duration_parse(value)
        .ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(value)))
}

/// time.ParseDuration: [-+]?(decimal unit)+ with units ns us µs ms s m h, or "0".
fn go_duration_parse(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    Some(if neg { -(total as i64) } else { total as i64 })
}

/// Prometheus model.ParseDuration: y w d h m s ms, each at most once, in that order.
fn prom_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("not a valid duration string: {}", go_quote(s));
    if s == "0" {
        return Ok(0);
    }
    let units: [(&str, u64); 7] = [
        ("y", 365 * 24 * HOUR),
        ("w", 7 * 24 * HOUR),
        ("d", 24 * HOUR),
        ("h", HOUR),
        ("m", MINUTE),
        ("s", NS),
        ("ms", MS),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let at = units[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(bad)?
            + next_unit;
        total = total.saturating_add(number.saturating_mul(units[at].1));
        next_unit = at + 1;
    }
    Ok(total)
}

/// time.Duration.String.
fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    let frac = |value: u64, digits: u32| -> String {
        let scale = 10u64.pow(digits);
        let (int, rem) = (value / scale, value % scale);
        if rem == 0 {
            int.to_string()
        } else {
            let f = format!("{rem:0width$}", width = digits as usize);
            format!("{int}.{}", f.trim_end_matches('0'))
        }
    };
    if u < NS {
        return if u < 1_000 {
            format!("{sign}{u}ns")
        } else if u < 1_000_000 {
            format!("{sign}{}µs", frac(u, 3))
        } else {
            format!("{sign}{}ms", frac(u, 6))
        };
    }
    let secs = u / NS;
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    let s = frac(u % (60 * NS), 9);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}
