//! The process target, the /proc sampler and a real OTLP receiver together: the demo stack
//! (demo-auth, demo-gateway) as local processes, switched through off, on and sampled, under a
//! small bounded load, showing each service's memory and CPU per mode and the spans each mode
//! exported.

mod target_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tracebench::resources::{Sampler, WindowSummary};
use tracebench::target::process::{ProcessTarget, ServiceCommand};
use tracebench::target::{ModeEnv, Readiness, Target};

use target_support::*;

/// Counts the spans it receives.
#[derive(Clone, Default)]
struct Receiver(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::SeqCst);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The demo binaries beside this test binary (target/<profile>/), built when missing.
fn demo_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = dir.join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "demo", "--bins"])
            .status()
            .unwrap();
        assert!(status.success(), "building the demo binaries");
    }
    bin
}

/// `count` registrations at about 100 a second: how many were answered 200.
fn register(port: u16, mode: &str, count: u32) -> u32 {
    let mut ok = 0;
    for i in 0..count {
        if post_register(port, &format!("u{i}-{mode}")) == Some(200) {
            ok += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stack_per_mode_memory_cpu_and_spans() {
    let spans = Receiver::default();
    let otlp_port = free_port();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(spans.clone()))
        .serve(([127, 0, 0, 1], otlp_port).into());
    let server = tokio::spawn(server);

    let dir = tempfile::tempdir().unwrap();
    let (auth_port, gw_port) = (free_port(), free_port());
    let base_env = BTreeMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
            format!("http://127.0.0.1:{otlp_port}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_string(), "200".to_string()),
    ]);
    let services = vec![
        ServiceCommand {
            name: "auth".into(),
            program: demo_bin("demo-auth"),
            args: vec!["--listen".into(), format!("127.0.0.1:{auth_port}")],
            env: base_env.clone(),
            cwd: None,
            readiness: Readiness::Tcp(([127, 0, 0, 1], auth_port).into()),
        },
        ServiceCommand {
            name: "gateway".into(),
            program: demo_bin("demo-gateway"),
            args: vec![
                "--listen".into(),
                format!("127.0.0.1:{gw_port}"),
                "--auth".into(),
                format!("http://127.0.0.1:{auth_port}"),
            ],
            env: base_env,
            cwd: None,
            readiness: Readiness::Http(format!("http://127.0.0.1:{gw_port}/health")),
        },
    ];
    let mut target = Target::Process(ProcessTarget::new(services, dir.path().to_path_buf()));
    const REQUESTS: u32 = 200;
    let mut per_mode = Vec::new();
    let result = target
        .guarded(async |t| {
            for mode in ["off", "on", "sampled"] {
                let env = standard_mode(mode, 0.5).unwrap();
                let before = spans.0.load(Ordering::SeqCst);
                t.apply(&ModeEnv::uniform(mode, ["auth", "gateway"], &env))
                    .await?;
                let sampler = Sampler::start(&t.sources(), Duration::from_secs(1), None)?;
                let start = chrono::Utc::now().timestamp_millis();
                let ok =
                    tokio::task::spawn_blocking(move || register(gw_port, mode, REQUESTS)).await?;
                let end = chrono::Utc::now().timestamp_millis();
                let series = sampler.stop().await?;
                // Stopping the services (SIGTERM) makes them flush their last spans.
                t.restore().await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
                let exported = spans.0.load(Ordering::SeqCst) - before;
                let windows: Vec<WindowSummary> = series
                    .iter()
                    .map(|s| WindowSummary::of(s, start, end))
                    .collect();
                per_mode.push((mode, ok, exported, windows));
            }
            Ok(())
        })
        .await;
    server.abort();
    result.unwrap();

    println!("mode     service   requests  spans  CPU% (exact)  CPU s/1k req  RSS MiB mean/max");
    for (mode, ok, exported, windows) in &per_mode {
        for w in windows {
            let mem = w.mem_mib.unwrap();
            println!(
                "{mode:<8} {:<9} {ok:>8} {exported:>6} {:>13.1} {:>13.3} {:>8.1}/{:.1}",
                w.service,
                w.cpu_pct_exact.unwrap_or(f64::NAN),
                w.cpu_seconds_per_1k_requests(u64::from(*ok))
                    .unwrap_or(f64::NAN),
                mem.mean,
                mem.max
            );
            assert!(mem.max > 1.0, "{mode} {}: RSS is read", w.service);
            assert!(
                w.cpu_seconds.is_some(),
                "{mode} {}: CPU time is read",
                w.service
            );
        }
        assert_eq!(*ok, REQUESTS, "{mode}: every registration answered 200");
    }
    let spans_of = |m: &str| per_mode.iter().find(|p| p.0 == m).unwrap().2;
    assert_eq!(spans_of("off"), 0, "tracing off exports nothing");
    // Each request is at least a gateway span and an auth span when sampled.
    assert!(
        spans_of("on") >= 2 * u64::from(REQUESTS),
        "on: {}",
        spans_of("on")
    );
    let sampled = spans_of("sampled");
    assert!(
        sampled > 0 && sampled < spans_of("on"),
        "sampled: {sampled}"
    );
}
