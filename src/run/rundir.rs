//! The run directory: where it goes, and the results a run starts from. Everything a run
//! measures is written here as soon as it is measured (`summary.json` after every cell).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::analysis::{Summary, analyze};
use crate::error::UsageError;
use crate::resources::host;
use crate::results::{Environment, Program, RunResults, SCHEMA_VERSION};
use crate::scenario::{Scenario, ServiceRuns, TargetConfig};

/// `reports/<UTC timestamp>-<scenario name>/`, relative to the current directory.
pub fn default_dir(scenario: &Scenario) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{stamp}-{}", scenario.name))
}

/// Creates the directory; refuses one that already holds a run, rather than mixing two.
pub fn create(dir: &Path) -> Result<()> {
    if dir.join("summary.json").exists() {
        return Err(UsageError(format!(
            "{} already holds a run (summary.json); choose another --out",
            dir.display()
        ))
        .into());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Results with no cell yet, for a run ordered by `seed`, with the sequential design it follows.
pub fn new_results(scenario: &Scenario, seed: u64) -> RunResults {
    let (cpu_limit, memory_limit) = host::cgroup_limits();
    RunResults {
        schema_version: SCHEMA_VERSION,
        scenario_name: scenario.name.clone(),
        scenario_path: scenario.path.display().to_string(),
        started_unix_ms: chrono::Utc::now().timestamp_millis(),
        finished_unix_ms: None,
        seed,
        partial: false,
        stop_reason: None,
        modes: scenario.modes.clone(),
        baseline: scenario.baseline.clone(),
        variants: scenario.variants.iter().map(|v| v.name.clone()).collect(),
        thresholds: Vec::new(),
        budgets: scenario.budgets.clone(),
        request_target: scenario.request_target(),
        environment: Environment {
            tracebench_version: env!("CARGO_PKG_VERSION").to_string(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            target_kind: scenario.target_kind().to_string(),
            cpu_model: host::cpu_model(),
            kernel: host::kernel(),
            cpu_limit_cores: cpu_limit,
            memory_limit_bytes: memory_limit,
            programs: programs(scenario),
        },
        cells: Vec::new(),
        traces: None,
        probes: None,
        design: Some(scenario.design()),
        history: Vec::new(),
        label: None,
    }
}

/// What each process service runs (its program, once built, and the program's digest). A
/// container's image is not recorded yet.
fn programs(scenario: &Scenario) -> Vec<Program> {
    let TargetConfig::Process { services, .. } = &scenario.target else {
        return Vec::new();
    };
    let program = |service: &str, program: &std::path::Path| Program {
        service: service.to_string(),
        name: program.display().to_string(),
        digest: host::find_program(program).and_then(|p| host::file_digest(&p).ok()),
    };
    let mut out: Vec<Program> = services
        .iter()
        .map(|s| program(&s.name, &s.command.program))
        .collect();
    // Each variant's own programs, under the variant's name.
    for v in &scenario.variants {
        for (service, s) in &v.services {
            if let Some(ServiceRuns::Command(c)) = &s.runs {
                out.push(program(&format!("{}/{service}", v.name), &c.program));
            }
        }
    }
    out
}

/// Each docker service's image and its ID (the variants' too, under `VARIANT/SERVICE`), which
/// the scenario alone does not know.
pub async fn record_images(
    docker: &crate::control::docker::DockerTarget,
    scenario: &Scenario,
    environment: &mut Environment,
) {
    for (service, name, digest) in docker.images() {
        environment.programs.push(Program {
            service,
            name,
            digest,
        });
    }
    for v in &scenario.variants {
        for (service, s) in &v.services {
            if let Some(ServiceRuns::Image(image)) = &s.runs {
                environment.programs.push(Program {
                    service: format!("{}/{service}", v.name),
                    name: image.clone(),
                    digest: docker.image_id(image).await,
                });
            }
        }
    }
}

/// The results with their analysis, as `summary.json` holds them at the end: the one place a
/// run analyzes what it measured.
pub fn summary(results: RunResults) -> Summary {
    let analysis = analyze(&results);
    Summary {
        schema_version: SCHEMA_VERSION,
        results,
        analysis,
    }
}

/// `summary.json` while the run goes on: the results so far, without an analysis (a run killed
/// before it concluded leaves this; reading it back analyzes it then).
#[derive(serde::Serialize)]
struct InProgress<'a> {
    schema_version: u32,
    results: &'a RunResults,
}

/// Rewrites `summary.json` with the results so far.
pub fn persist(dir: &Path, results: &RunResults) -> Result<()> {
    let summary = InProgress {
        schema_version: SCHEMA_VERSION,
        results,
    };
    let mut bytes = serde_json::to_vec_pretty(&summary)?;
    bytes.push(b'\n');
    crate::report::write_atomic(&dir.join("summary.json"), &bytes)
}
