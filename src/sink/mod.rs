//! The built-in sink: OTLP receivers (gRPC and HTTP) feeding a bounded [`SpanStore`], and the part of
//! Tempo's HTTP query API that tracebench uses, so one Tempo client serves a real Tempo and this.
//!
//! [`Sink::start`] binds every listener before returning (a taken port fails there, naming it),
//! reports the bound addresses (ports 0 give ephemeral ones, for tests and `tracebench run`), and
//! [`Sink::stop`] shuts it all down. Both HTTP listeners serve the same routes: the OTLP one for
//! `POST /v1/traces`, the API one for queries; serving both everywhere costs nothing and keeps
//! one router. Exports, gRPC and HTTP alike, are received and decoded one at a time, so the room
//! the store keeps for decoding ([`SpanStore`]) is the sink's whole working memory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::limit::GlobalConcurrencyLimitLayer;

pub mod otlp;
mod query;
pub mod store;

use otlp::{DecodeError, Encoding};
use query::{parse_search, parse_trace_id};
use store::{SpanStore, StoreStats};

/// Where the sink listens and how much it keeps.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub api: SocketAddr,
    /// Spans kept in memory before the oldest traces are dropped.
    pub max_spans: usize,
    /// Estimated heap of the kept spans, plus room for decoding the largest export, before the
    /// oldest traces are dropped.
    pub max_bytes: usize,
    /// Largest accepted export body, compressed or not, in bytes.
    pub max_body_bytes: usize,
}

pub const DEFAULT_MAX_SPANS: usize = 1_000_000;
/// 256 MiB: about 1,000,000 demo-like spans (269 bytes each by the store's estimate, 263 in
/// fact), and a stream of spans with large attributes held to the same memory.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest `max_body_bytes` allowed (1 GiB): the store addresses a body's spans with 32-bit
/// offsets.
pub const MAX_BODY_LIMIT: usize = 1 << 30;
/// How long [`Sink::stop`] lets open connections finish.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            otlp_grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
            otlp_http: SocketAddr::from(([127, 0, 0, 1], 4318)),
            api: SocketAddr::from(([127, 0, 0, 1], 3200)),
            max_spans: DEFAULT_MAX_SPANS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl SinkConfig {
    /// Every listener on an ephemeral loopback port.
    pub fn ephemeral() -> SinkConfig {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        SinkConfig {
            otlp_grpc: any,
            otlp_http: any,
            api: any,
            ..SinkConfig::default()
        }
    }
}

/// The addresses the sink actually bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkAddrs {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub api: SocketAddr,
}

impl SinkAddrs {
    /// `http://host:port` of the query API, for the Tempo client.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }
    /// `http://host:port` of the gRPC receiver, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn otlp_grpc_url(&self) -> String {
        format!("http://{}", self.otlp_grpc)
    }
    /// `http://host:port` of the HTTP receiver (exporters append `/v1/traces`).
    pub fn otlp_http_url(&self) -> String {
        format!("http://{}", self.otlp_http)
    }
}

/// A running sink. Dropping it without [`Sink::stop`] leaves its tasks running until the
/// runtime ends.
pub struct Sink {
    addrs: SinkAddrs,
    store: Arc<SpanStore>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sink {
    pub async fn start(config: SinkConfig) -> anyhow::Result<Sink> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for {what} on {addr}"))
        };
        let grpc = bind(config.otlp_grpc, "OTLP gRPC").await?;
        let http = bind(config.otlp_http, "OTLP HTTP").await?;
        let api = bind(config.api, "the query API").await?;
        let addrs = SinkAddrs {
            otlp_grpc: grpc.local_addr()?,
            otlp_http: http.local_addr()?,
            api: api.local_addr()?,
        };
        let store = Arc::new(SpanStore::new(config.max_spans, config.max_bytes));
        let (shutdown, rx) = watch::channel(false);
        let receiving = Arc::new(Semaphore::new(1));
        let state = Arc::new(HttpState {
            store: Arc::clone(&store),
            max_body_bytes: config.max_body_bytes,
            receiving: Arc::clone(&receiving),
        });
        let tasks = vec![
            tokio::spawn(serve_grpc(
                grpc,
                Arc::clone(&store),
                config.max_body_bytes,
                receiving,
                rx.clone(),
            )),
            tokio::spawn(serve_http(http, Arc::clone(&state), rx.clone())),
            tokio::spawn(serve_http(api, state, rx)),
        ];
        Ok(Sink {
            addrs,
            store,
            shutdown,
            tasks,
        })
    }

    pub fn addrs(&self) -> SinkAddrs {
        self.addrs
    }

    pub fn store(&self) -> &Arc<SpanStore> {
        &self.store
    }

    /// Stops every listener and connection; returns the store's final counters. gRPC
    /// connections get [`STOP_GRACE`] to finish (a client that never closes its HTTP/2 connection
    /// would otherwise hold the graceful shutdown forever), then are cut.
    pub async fn stop(self) -> StoreStats {
        let _ = self.shutdown.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        self.store.stats()
    }
}

struct GrpcReceiver {
    store: Arc<SpanStore>,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        otlp::check_ids(&request).map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        self.store.ingest(request);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn serve_grpc(
    listener: TcpListener,
    store: Arc<SpanStore>,
    max_body_bytes: usize,
    receiving: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service =
        TraceServiceServer::new(GrpcReceiver { store }).max_decoding_message_size(max_body_bytes);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let result = tonic::transport::Server::builder()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(receiving))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(err) = result {
        eprintln!("sink: OTLP gRPC receiver stopped: {err}");
    }
}

struct HttpState {
    store: Arc<SpanStore>,
    max_body_bytes: usize,
    /// One permit, shared with the gRPC receiver: the export being received and decoded.
    receiving: Arc<Semaphore>,
}

async fn serve_http(
    listener: TcpListener,
    state: Arc<HttpState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors and the like: wait, then keep serving.
                        eprintln!("sink: accept failed: {err}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = Arc::clone(&state);
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(route(req, &state).await) }
                });
                connections.spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
}

type HttpResponse = Response<Full<Bytes>>;

async fn route(req: Request<Incoming>, state: &HttpState) -> HttpResponse {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/v1/traces") => receive(req, state).await,
        (_, "/v1/traces") => text(StatusCode::METHOD_NOT_ALLOWED, "use POST"),
        (&Method::GET, "/ready") => text(StatusCode::OK, "ready"),
        (&Method::GET, "/api/echo") => text(StatusCode::OK, "echo"),
        (&Method::GET, "/api/status") => json(StatusCode::OK, &state.store.stats()),
        (&Method::GET, "/api/search") => match parse_search(&query) {
            Ok(q) => {
                off_runtime(&state.store, move |store| {
                    json(StatusCode::OK, &store.search(&q))
                })
                .await
            }
            Err(msg) => text(StatusCode::BAD_REQUEST, &msg),
        },
        (&Method::GET, p) if p.starts_with("/api/traces/") => {
            let raw = &p["/api/traces/".len()..];
            match parse_trace_id(raw) {
                Some(id) => {
                    off_runtime(&state.store, move |store| match store.trace(&id) {
                        Some(trace) => json(StatusCode::OK, &trace),
                        None => text(StatusCode::NOT_FOUND, "trace not found"),
                    })
                    .await
                }
                None => text(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid trace id {raw:?}: expected up to 32 hex digits"),
                ),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Runs a query, which scans the store and writes a possibly large answer, on the blocking pool,
/// so the runtime's threads keep serving other requests meanwhile.
async fn off_runtime(
    store: &Arc<SpanStore>,
    query: impl FnOnce(&SpanStore) -> HttpResponse + Send + 'static,
) -> HttpResponse {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || query(&store))
        .await
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "the query failed"))
}

/// `POST /v1/traces`: 200 with an empty export response, or a status saying what was wrong.
async fn receive(req: Request<Incoming>, state: &HttpState) -> HttpResponse {
    let Ok(_receiving) = state.receiving.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the sink is stopping");
    };
    match decode_body(req, state.max_body_bytes).await {
        Ok((request, encoding)) => {
            state.store.ingest(request);
            let response = ExportTraceServiceResponse::default();
            match encoding {
                Encoding::Protobuf => Response::builder()
                    .header(header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(Bytes::from(response.encode_to_vec())))
                    .unwrap_or_default(),
                // An empty ExportTraceServiceResponse: no partial success to report.
                Encoding::Json => json(StatusCode::OK, &serde_json::json!({})),
            }
        }
        Err(err) => {
            let status = match err {
                DecodeError::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                DecodeError::UnsupportedContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            text(status, &err.to_string())
        }
    }
}

async fn decode_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<(ExportTraceServiceRequest, Encoding), DecodeError> {
    let header_str = |name| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>").to_string())
    };
    let encoding =
        Encoding::from_content_type(&header_str(header::CONTENT_TYPE).unwrap_or_default())?;
    let content_encoding = header_str(header::CONTENT_ENCODING);
    let body = Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|_| DecodeError::TooLarge { limit })?
        .to_bytes();
    let body = otlp::decompress(&body, content_encoding.as_deref(), limit)?;
    Ok((otlp::decode(&body, encoding)?, encoding))
}

fn text(status: StatusCode, body: &str) -> HttpResponse {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!("{body}\n"))))
        .unwrap_or_default()
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default(),
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}
