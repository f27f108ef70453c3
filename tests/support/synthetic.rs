//! A synthetic run with known effects, for report tests: three modes (off as baseline, on with
//! +2 ms latency, +3 pp CPU and +15 MB memory, sampled with small effects), two rates, three
//! rounds, two services, trace counts and probes. Deterministic (seeded), analysed by the real
//! analysis, so the reports render the verdicts a real run would get.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracebench::analysis::{Summary, analyze};
use tracebench::results::*;

pub const MODES: [(&str, f64); 3] = [("off", 0.0), ("on", 1.0), ("sampled", 0.1)];
pub const RATES: [f64; 2] = [20.0, 50.0];
pub const ROUNDS: u32 = 3;
pub const WINDOW_S: u32 = 20;
pub const SERVICES: [&str; 2] = ["gateway", "auth"];
const STARTED_UNIX_MS: i64 = 1_764_000_000_000;

/// (added latency us, added CPU pp, added memory MB) of each mode against off.
fn effect(mode: &str) -> (u64, f64, f64) {
    match mode {
        "on" => (2_000, 3.0, 15.0),
        "sampled" => (50, 0.2, 2.0),
        _ => (0, 0.0, 0.0),
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

pub fn summary() -> Summary {
    let results = results();
    let analysis = analyze(&results);
    Summary {
        schema_version: SCHEMA_VERSION,
        results,
        analysis,
    }
}

pub fn results() -> RunResults {
    let mut rng = StdRng::seed_from_u64(7);
    let mut cells = Vec::new();
    let mut trace_cells = Vec::new();
    let mut order = 0;
    for round in 0..ROUNDS {
        // Modes rotate per round, as shuffling would move them.
        for m in 0..MODES.len() {
            let (mode, ratio) = MODES[(m + round as usize) % MODES.len()];
            for rate in RATES {
                let start = STARTED_UNIX_MS + i64::from(order) * 30_000 + 5_000;
                let (cell, traces) = cell(&mut rng, mode, ratio, rate, round, order, start);
                cells.push(cell);
                trace_cells.push(traces);
                order += 1;
            }
        }
    }
    let mut env = BTreeMap::new();
    env.insert("OTEL_TRACES_SAMPLER".to_string(), "always_on".to_string());
    RunResults {
        schema_version: SCHEMA_VERSION,
        scenario_name: "synthetic".into(),
        scenario_path: "tests/support/synthetic.rs".into(),
        started_unix_ms: STARTED_UNIX_MS,
        finished_unix_ms: Some(STARTED_UNIX_MS + i64::from(order) * 30_000 + 60_000),
        partial: false,
        stop_reason: None,
        modes: MODES
            .iter()
            .map(|&(name, ratio)| ModeInfo {
                name: name.into(),
                sampling_ratio: ratio,
                env: env.clone(),
            })
            .collect(),
        baseline: "off".into(),
        budgets: Budgets {
            latency_ms: [("p50".to_string(), 1.0), ("p99".to_string(), 1.0)].into(),
            cpu_pp: Some(1.0),
            memory_mb: Some(20.0),
            memory_expected_mb: Some((10.0, 20.0)),
            trace_volume_tolerance: Some(0.0),
        },
        request_target: "http://127.0.0.1:8080/register".into(),
        environment: Environment {
            tracebench_version: "0.1.0".into(),
            hostname: "test-host".into(),
            os: "linux".into(),
            cpus: 2,
            target_kind: "process".into(),
        },
        cells,
        traces: Some(TraceResults {
            store: "built-in sink".into(),
            method: "search over 60 s slices".into(),
            cells: trace_cells,
            store_dropped_spans: Some(0),
        }),
        probes: Some(ProbeResults {
            sent: 5,
            found: 5,
            missing: 0,
            broken: 0,
            ingestion_delay_p50_ms: Some(850.0),
            ingestion_delay_max_ms: Some(1_400.0),
            problems: Vec::new(),
        }),
    }
}

fn cell(
    rng: &mut StdRng,
    mode: &str,
    ratio: f64,
    rate: f64,
    round: u32,
    order: u32,
    start: i64,
) -> (CellResult, CellTraces) {
    let (added_us, added_cpu, added_mb) = effect(mode);
    let mut whole = hist();
    let mut seconds = Vec::new();
    for offset_s in 0..WINDOW_S {
        let mut second = hist();
        for _ in 0..rate as u64 {
            let base = 1_500.0 + 10.0 * rate;
            let mut us = base * rng.random_range(0.8..1.3) + added_us as f64;
            if rng.random_bool(0.01) {
                us += rng.random_range(2_000.0..20_000.0);
            }
            second.record(us as u64).unwrap();
        }
        whole.add(&second).unwrap();
        seconds.push(SecondRecord {
            offset_s,
            completed: second.len(),
            errors: 0,
            latency_us: SparseHistogram::from_hdr(&second),
        });
    }
    let completed = whole.len();
    let resources = SERVICES
        .iter()
        .enumerate()
        .map(|(i, service)| {
            let mut cpu_seconds = 10.0 * (i as f64 + 1.0) + f64::from(order);
            let samples: Vec<_> = (0..=WINDOW_S)
                .map(|s| {
                    let cpu = 2.0 + rate * 0.05 + added_cpu + rng.random_range(-0.5..0.5);
                    cpu_seconds += cpu / 100.0;
                    let mb = 30.0 + 8.0 * i as f64 + added_mb + f64::from(s) * 0.02;
                    ResourceSample {
                        unix_ms: start + i64::from(s) * 1000,
                        cpu_pct: Some(cpu),
                        mem_bytes: Some((mb * 1e6 + rng.random_range(0.0..3e5)) as u64),
                        cpu_seconds: Some(cpu_seconds),
                    }
                })
                .collect();
            let window_cpu =
                samples.iter().filter_map(|s| s.cpu_pct).sum::<f64>() / samples.len() as f64;
            ServiceResources {
                service: service.to_string(),
                source: ResourceSource::Proc,
                samples,
                window_cpu_pct: Some(window_cpu),
                cpu_seconds_per_1k_requests: Some(
                    window_cpu / 100.0 * f64::from(WINDOW_S) / completed as f64 * 1000.0,
                ),
            }
        })
        .collect();
    let observed = (0..completed).filter(|_| rng.random_bool(ratio)).count() as u64;
    let minute = (start / 1000) / 60 * 60;
    let traces = CellTraces {
        mode: mode.into(),
        rate,
        round,
        service: "gateway".into(),
        observed,
        per_minute: vec![MinuteCount {
            start_unix_s: minute,
            count: observed,
        }],
    };
    let latency_ms = Percentiles::from_hdr_us(&whole);
    let cell = CellResult {
        mode: mode.into(),
        rate,
        round,
        order,
        window_start_unix_ms: start,
        window_end_unix_ms: start + i64::from(WINDOW_S) * 1000,
        achieved_rate: rate,
        sent: completed,
        completed,
        ok: completed,
        errors: 0,
        dropped: 0,
        status_counts: [("200".to_string(), completed)].into(),
        latency_ms,
        service_time_ms: latency_ms,
        driver_lag_ms: Percentiles::default(),
        latency: SparseHistogram::from_hdr(&whole),
        seconds,
        resources,
        partial: false,
    };
    (cell, traces)
}
