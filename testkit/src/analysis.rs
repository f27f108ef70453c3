//! A generator of synthetic `RunResults` with known effects, for the analysis and compare tests
//! and the analysis bench. Latency per request is a floor plus a per-cell shift (restart-to-restart
//! variation) plus an exponential tail plus the mode's added delay; CPU and memory are per-cell
//! levels plus one-second noise; a mode may fail a share of its requests; trace counts follow the
//! sampling ratio minus a chosen shortfall. Each round measures every mode once and the baseline
//! (the first mode; with variants, each variant's) twice, in a row of the Williams square, as a run does. Everything is drawn from one seeded generator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracebench::load::LoadSummary;
use tracebench::results::*;

/// One mode and the effects it adds over the generator's base figures.
#[derive(Debug, Clone)]
pub struct ModeSpec {
    pub name: &'static str,
    pub sampling_ratio: f64,
    pub added_latency_ms: f64,
    pub added_cpu_pct: f64,
    pub added_memory_mb: f64,
    /// Share of requests that fail (counted as errors, with their latency).
    pub error_share: f64,
    /// Traces missing from the count, per cell and service.
    pub trace_shortfall: u64,
}

impl ModeSpec {
    pub fn new(name: &'static str, sampling_ratio: f64) -> ModeSpec {
        ModeSpec {
            name,
            sampling_ratio,
            added_latency_ms: 0.0,
            added_cpu_pct: 0.0,
            added_memory_mb: 0.0,
            error_share: 0.0,
            trace_shortfall: 0,
        }
    }
}

/// The shape of a synthetic run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub modes: Vec<ModeSpec>,
    pub rates: Vec<f64>,
    pub rounds: u32,
    pub seconds: u32,
    /// Latency floor and mean of its exponential tail, ms.
    pub latency_floor_ms: f64,
    pub latency_tail_ms: f64,
    /// Standard deviation of a cell's latency shift, ms: the variation between restarts.
    pub latency_cell_sd_ms: f64,
    /// CPU % and memory MB of each service in the baseline, their round-to-round and
    /// second-to-second standard deviations.
    pub cpu_pct: f64,
    pub memory_mb: f64,
    pub round_sd: f64,
    pub second_sd: f64,
    pub count_traces: bool,
    pub seed: u64,
    /// Builds measured side by side: the modes are then named `VARIANT/MODE`, and every mode
    /// named like the first after its variant is a baseline measured twice a round.
    pub variants: Vec<String>,
}

impl Default for RunSpec {
    fn default() -> RunSpec {
        RunSpec {
            modes: vec![ModeSpec::new("off", 0.0), ModeSpec::new("on", 1.0)],
            rates: vec![100.0],
            rounds: 6,
            seconds: 30,
            latency_floor_ms: 2.0,
            latency_tail_ms: 0.5,
            latency_cell_sd_ms: 0.05,
            cpu_pct: 20.0,
            memory_mb: 50.0,
            round_sd: 0.1,
            second_sd: 1.0,
            count_traces: true,
            seed: 42,
            variants: Vec::new(),
        }
    }
}

pub const SERVICES: [&str; 2] = ["gateway", "auth"];

/// The checklist's budgets: 1 ms at p50 and p99, 1 pp CPU, 20 MB memory (10-20 expected),
/// exact trace volume.
pub fn checklist_budgets() -> Budgets {
    Budgets {
        latency_ms: BTreeMap::from([("p50".into(), 1.0), ("p99".into(), 1.0)]),
        cpu_pp: Some(1.0),
        memory_mb: Some(20.0),
        memory_expected_mb: Some((10.0, 20.0)),
        trace_volume_tolerance: Some(0.0),
        errors_pp: Some(0.1),
        incomplete_traces_pct: Some(0.0),
    }
}

fn hist() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap()
}

/// A normal draw (Box-Muller).
fn normal(rng: &mut StdRng, sd: f64) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
    sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `results`, analyzed, written as `dir/name/summary.json` as a run leaves it; its path.
pub fn write_results(dir: &Path, name: &str, results: RunResults) -> PathBuf {
    let summary = tracebench::analysis::Summary {
        schema_version: SCHEMA_VERSION,
        analysis: tracebench::analysis::analyze(&results),
        results,
    };
    let run_dir = dir.join(name);
    std::fs::create_dir_all(&run_dir).unwrap();
    let path = run_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_vec(&summary).unwrap()).unwrap();
    path
}

/// The synthetic run of `spec`, written by [`write_results`].
pub fn write_summary(dir: &Path, name: &str, spec: &RunSpec) -> PathBuf {
    write_results(dir, name, generate(spec))
}

pub fn generate(spec: &RunSpec) -> RunResults {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut cells = Vec::new();
    let mut trace_cells = Vec::new();
    let mut order = 0;
    // The baseline (first mode; with variants, each variant's) a second time: its A/A cell.
    let baseline = split_mode(spec.modes[0].name).1;
    let treatments: Vec<(&ModeSpec, u32)> = spec
        .modes
        .iter()
        .map(|m| (m, 0))
        .chain(
            spec.modes
                .iter()
                .filter(|m| split_mode(m.name).1 == baseline)
                .map(|m| (m, 1)),
        )
        .collect();
    // Each round a row of the Williams square, as a run's plan orders its cells.
    let rows = tracebench::scenario::williams(treatments.len());
    for round in 0..spec.rounds {
        for &rate in &spec.rates {
            for &t in &rows[round as usize % rows.len()] {
                let (mode, replicate) = treatments[t];
                let start = 1_700_000_000_000 + i64::from(order) * 100_000;
                let mut cell = cell(spec, mode, rate, round, order, start, &mut rng);
                cell.replicate = replicate;
                for service in SERVICES {
                    // Every answered request roots a trace.
                    let expected =
                        (cell.load.completed as f64 * mode.sampling_ratio).round() as u64;
                    let observed = expected.saturating_sub(mode.trace_shortfall);
                    trace_cells.push(CellTraces {
                        mode: mode.name.into(),
                        rate,
                        round,
                        replicate,
                        service: service.into(),
                        observed,
                        per_minute: vec![],
                        complete: Some(observed),
                        incomplete: Some(0),
                    });
                }
                cells.push(cell);
                order += 1;
            }
        }
    }
    RunResults {
        schema_version: SCHEMA_VERSION,
        scenario_name: "synthetic".into(),
        scenario_path: "synthetic.toml".into(),
        started_unix_ms: 1_700_000_000_000,
        finished_unix_ms: Some(1_700_000_000_000 + i64::from(order) * 100_000),
        seed: spec.seed,
        partial: false,
        stop_reason: None,
        modes: spec
            .modes
            .iter()
            .map(|m| ModeInfo {
                name: m.name.into(),
                sampling_ratio: m.sampling_ratio,
                env: BTreeMap::new(),
            })
            .collect(),
        baseline: baseline.into(),
        variants: spec.variants.clone(),
        thresholds: Vec::new(),
        budgets: checklist_budgets(),
        request_target: "http://127.0.0.1:1/register".into(),
        environment: Environment::default(),
        cells,
        traces: spec.count_traces.then(|| TraceResults {
            store: "built-in sink".into(),
            method: "synthetic".into(),
            cells: trace_cells,
            store_dropped_spans: None,
            slow_traces: Vec::new(),
            link: None,
        }),
        probes: None,
        design: None,
        history: Vec::new(),
        label: None,
    }
}

fn cell(
    spec: &RunSpec,
    mode: &ModeSpec,
    rate: f64,
    round: u32,
    order: u32,
    start: i64,
    rng: &mut StdRng,
) -> CellResult {
    let per_second = rate.round() as u64;
    let mut whole = hist();
    let mut seconds = Vec::new();
    let mut failed = 0;
    let shift = normal(rng, spec.latency_cell_sd_ms);
    for s in 0..spec.seconds {
        let mut h = hist();
        let mut errors = 0;
        for _ in 0..per_second {
            let tail = -rng.random_range(f64::EPSILON..1.0f64).ln() * spec.latency_tail_ms;
            let ms = (spec.latency_floor_ms + shift + tail + mode.added_latency_ms).max(0.001);
            h.record((ms * 1000.0).round() as u64).unwrap();
            if rng.random::<f64>() < mode.error_share {
                errors += 1;
            }
        }
        whole.add(&h).unwrap();
        failed += errors;
        seconds.push(SecondRecord {
            offset_s: s,
            completed: per_second - errors,
            errors,
            latency_us: EncodedHistogram::from_hdr(&h),
        });
    }
    let n = whole.len();
    let resources = SERVICES
        .iter()
        .map(|&service| {
            let cpu_level = spec.cpu_pct + mode.added_cpu_pct + normal(rng, spec.round_sd);
            let mem_level = spec.memory_mb + mode.added_memory_mb + normal(rng, spec.round_sd);
            let samples: Vec<ResourceSample> = (0..spec.seconds)
                .map(|s| ResourceSample {
                    unix_ms: start + i64::from(s + 1) * 1000,
                    cpu_pct: Some(cpu_level + normal(rng, spec.second_sd)),
                    mem_bytes: Some(((mem_level + normal(rng, spec.second_sd)) * 1e6) as u64),
                    cpu_seconds: None,
                })
                .collect();
            let window_cpu =
                samples.iter().filter_map(|s| s.cpu_pct).sum::<f64>() / f64::from(spec.seconds);
            ServiceResources {
                service: service.into(),
                source: ResourceSource::Proc,
                samples,
                window_cpu_pct: Some(window_cpu),
                window_cpu_seconds: Some(window_cpu / 100.0 * f64::from(spec.seconds)),
                cpu_counter: CpuCounter::ProcessClock,
                cpu_seconds_per_1k_requests: Some(
                    window_cpu / 100.0 * f64::from(spec.seconds) / n as f64 * 1000.0,
                ),
            }
        })
        .collect();
    CellResult {
        mode: mode.name.into(),
        rate,
        round,
        replicate: 0,
        order,
        window_start_unix_ms: start,
        window_end_unix_ms: start + i64::from(spec.seconds) * 1000,
        load: LoadSummary {
            requested_rate: rate,
            achieved_rate: rate,
            duration_s: f64::from(spec.seconds),
            due: n,
            sent: n,
            completed: n - failed,
            errors: failed,
            status_counts: BTreeMap::from([("200".into(), n - failed)]),
            error_kinds: if failed > 0 {
                BTreeMap::from([("no response within 1s".into(), failed)])
            } else {
                BTreeMap::new()
            },
            latency_ms: Percentiles::from_hdr_us(&whole),
            service_time_ms: Percentiles::from_hdr_us(&whole),
            ..LoadSummary::default()
        },
        ok: n - failed,
        warnings: vec![],
        tracebench_cpu_s: Some(0.05 * spec.seconds as f64),
        steal_pct: None,
        latency: EncodedHistogram::from_hdr(&whole),
        seconds,
        resources,
    }
}
