//! The process target, the /proc sampler and the built-in sink together: the demo stack
//! (demo-auth, demo-gateway) as local processes, switched through off, on and sampled, under a
//! small bounded load, showing each service's memory and CPU per mode and the spans each mode
//! exported.

use std::collections::BTreeMap;
use std::time::Duration;

use tracebench::control::process::{ProcessTarget, ServiceCommand};
use tracebench::control::{ModeEnv, Readiness, Shutdown, Target};
use tracebench::resources::{Sampler, WindowSummary};
use tracebench::sink::{Sink, SinkConfig};

use testkit::demo::demo_bin;
use testkit::net::*;
use testkit::target::*;

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
    let sink = Sink::start(SinkConfig::ephemeral()).await.unwrap();
    // (spans received, traces held) so far; the store is far below its bound, nothing is evicted.
    let received = || {
        let stats = sink.store().stats();
        (stats.received_spans, stats.traces as u64)
    };

    let dir = tempfile::tempdir().unwrap();
    let (auth_port, gw_port) = (free_port(), free_port());
    let base_env = BTreeMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
            sink.addrs().otlp_grpc_url(),
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
    let shutdown = Shutdown::watch();
    let result = target
        .guarded(&shutdown, async |t, cancel| {
            for mode in ["off", "on", "sampled"] {
                let env = standard_mode(mode, 0.5).unwrap();
                let before = received();
                t.apply(&ModeEnv::uniform(mode, ["auth", "gateway"], &env), cancel)
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
                let after = received();
                let (exported, traces) = (after.0 - before.0, after.1 - before.1);
                let windows: Vec<WindowSummary> = series
                    .iter()
                    .map(|s| WindowSummary::of(s, start, end))
                    .collect();
                per_mode.push((mode, ok, exported, traces, windows));
            }
            Ok(())
        })
        .await;
    sink.stop().await;
    result.unwrap();

    println!("mode     service   requests  spans  CPU% (exact)  CPU s/1k req  RSS MiB mean/max");
    for (mode, ok, exported, _, windows) in &per_mode {
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
    let traces_on = per_mode.iter().find(|p| p.0 == "on").unwrap().3;
    assert_eq!(
        traces_on,
        u64::from(REQUESTS),
        "on: one trace per registration"
    );
    let sampled = spans_of("sampled");
    assert!(
        sampled > 0 && sampled < spans_of("on"),
        "sampled: {sampled}"
    );
}
