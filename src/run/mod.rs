//! `tracebench run`: the data flow of design.md, end to end. Build once, open the trace store,
//! then every cell of the plan (`cell`), each persisted at once (`rundir`) and its traces
//! counted once its ingestion wait has passed, while a later cell warms up (`store`); after the
//! last cell, the remaining counts and the probes; then the target is restored (always: on success, on error,
//! on Ctrl-C/SIGTERM), the reports are written and the verdict decides the exit code.
//!
//! An interrupted or broken run still writes every report, marked partial, from the cells it
//! finished; its exit code is 4 (the run did not complete), whatever those cells say.

mod backend;
mod cell;
mod counter;
mod history;
pub mod lock;
mod progress;
pub mod recovery;
mod rundir;
mod sequential;
mod spec;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::control::journal::Journal;
use crate::control::{Interrupted, ModeEnv, Shutdown, Target};
use crate::exit::Exit;
use crate::results::{Design, RunResults};
use crate::scenario::{Cell, Scenario, TraceStore};
use backend::TraceBackend;
use cell::Cursor;
use counter::Counter;
pub use progress::Progress;
pub use rundir::default_dir;
use sequential::{Clock, Look, Step};

/// How a run reports.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run directory (created).
    pub out: PathBuf,
    /// Print only the verdict table.
    pub quiet: bool,
    /// The order's seed; `None`: the scenario's `load.seed`, else a new one.
    pub seed: Option<u64>,
    /// Where earlier runs of the scenario are; `None`: the run directory's parent.
    pub history: Option<PathBuf>,
    /// The version or commit the run measures.
    pub label: Option<String>,
    /// `--threshold KEY=LIMIT` overrides for the candidate variants against the base.
    pub thresholds: Vec<String>,
}

/// Runs the scenario; returns the exit code once every report is written. An `Err` means the
/// run broke before any cell (build failed, store unreachable, bad directory, target not found)
/// or after writing a partial report (the error says where).
pub async fn run(scenario: &Scenario, options: &Options) -> Result<Exit> {
    let seed = options
        .seed
        .or(scenario.load.seed)
        // Below 2^53, so a JSON reader that holds numbers as doubles reads it back exactly.
        .unwrap_or_else(|| rand::random::<u64>() >> 11);
    let plan = scenario.plan(seed);
    let progress = Progress::new(plan.len(), scenario.load.duration.as_secs(), options.quiet);
    announce(scenario, seed, plan.len(), &progress);
    // Before anything is built, bound, created or restarted: a second run changes nothing.
    let lock = lock::RunLock::take(
        &lock::state_dir(),
        &scenario.load_address(),
        &options.out,
        &scenario.path,
    )?;
    recover_dead_run(&lock, &progress).await?;
    build(scenario, options.quiet).await?;
    let (store, warning) = TraceBackend::open(scenario).await?;
    if let Some(warning) = warning {
        eprintln!("tracebench: warning: {warning}");
    }
    let dir = options.out.as_path();
    let mut results = rundir::new_results(scenario, seed);
    results.label = options.label.clone();
    results.thresholds = options.thresholds.clone();
    let history_dir = options
        .history
        .clone()
        .or_else(|| dir.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    results.history = history::earlier_runs(
        &history_dir,
        &results.scenario_name,
        &results.environment.hostname,
        dir,
    );
    progress.note(&format!(
        "{} earlier run(s) of {} on this machine in {} for the variation between runs",
        results.history.len(),
        results.scenario_name,
        history_dir.display()
    ));
    let mut target = match prepare(scenario, options, &mut results, &lock).await {
        Ok(target) => target,
        Err(err) => {
            store.close().await;
            return Err(err);
        }
    };

    // Ctrl-C / SIGTERM stop the current cell through the driver's token; the loop then ends.
    let shutdown = Shutdown::watch();
    let mut ctx = Ctx {
        scenario,
        dir,
        cancel: shutdown.token(),
        progress: &progress,
        run_id: crate::load::new_run_id(),
        cursor: Cursor::default(),
        counter: Counter::default(),
    };
    let outcome = target
        .guarded(&shutdown, async |target, cancel| {
            ctx.measure(&plan, target, &store, &mut results).await?;
            if !cancel.is_cancelled() {
                ctx.count_rest(&store, &mut results).await?;
            }
            if !cancel.is_cancelled() {
                ctx.probe(target, &store, &mut results).await?;
            }
            progress.note("restoring the target");
            Ok(())
        })
        .await;
    // Stopped early: the target is back first, then every finished cell is still counted
    // (bounded by the ingestion wait; a second Ctrl-C does not cut it short). After a whole
    // run nothing is left to count.
    let counted = ctx.count_rest(&store, &mut results).await;
    store.close().await;
    let signal = shutdown.stop();
    progress.finish();
    let error = match outcome {
        Err(err) if err.downcast_ref::<Interrupted>().is_some() => None,
        outcome => outcome.err(),
    };
    conclude(results, error.or(counted.err()), signal, options)
}

/// The run's opening notes: the order's seed, the looks, and whether the rounds balance the
/// order.
fn announce(scenario: &Scenario, seed: u64, cells: usize, progress: &Progress) {
    let load = &scenario.load;
    let square = scenario.balanced_rounds();
    progress.note(&format!(
        "order seed {seed} (reproduce the order with --seed {seed}); {cells} cells at most, the \
         first one discarded"
    ));
    if load.max_rounds > load.rounds {
        let looks = scenario.design().looks();
        let looks: Vec<String> = looks.iter().map(u32::to_string).collect();
        progress.note(&format!(
            "rounds {} to {}: the run looks after rounds {} and stops once every budget is \
             decided{}",
            load.rounds,
            load.max_rounds,
            looks.join(", "),
            load.max_duration.map_or(String::new(), |d| format!(
                " or the next square would end after {}",
                humantime::format_duration(d)
            ))
        ));
    }
    if load.rounds % square != 0 {
        progress.note(&format!(
            "note: the order is fully balanced when load.rounds is a multiple of {square}"
        ));
    }
    if (load.max_rounds - load.rounds) % square != 0 {
        progress.note(&format!(
            "note: load.max_rounds is not load.rounds plus whole squares of {square} rounds: the \
             last look comes after a part of a square"
        ));
    }
}

/// Puts back what a run that died on this target left changed, saying what it did.
async fn recover_dead_run(lock: &lock::RunLock, progress: &Progress) -> Result<()> {
    if let Some(recovered) = recovery::after_dead_run(lock).await? {
        progress.note(&format!(
            "an earlier run on this target died before restoring it; put back from {}",
            recovered.journal.display()
        ));
        for action in &recovered.actions {
            progress.note(&format!("  {action}"));
        }
    }
    Ok(())
}

/// Creates the run directory with its first summary.json, and the target with its journal
/// (nothing is changed on it yet).
async fn prepare(
    scenario: &Scenario,
    options: &Options,
    results: &mut RunResults,
    lock: &lock::RunLock,
) -> Result<Target> {
    let dir = options.out.as_path();
    rundir::create(dir)?;
    rundir::persist(dir, results)?;
    let prompt = !options.quiet && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut target = Target::from_scenario(&scenario.target, dir, prompt)
        .await
        .context("preparing the target")?;
    if let Target::Docker(docker) = &target {
        rundir::record_images(docker, scenario, &mut results.environment).await;
        rundir::persist(dir, results)?;
    }
    if target.changes_services() {
        let journal = Journal::create(dir, &scenario.load_address(), Some(lock.journal_pointer()))?;
        target = target.with_journal(journal)?;
    }
    if let (
        Target::Process(services),
        TraceStore::Tempo {
            token_env: Some(name),
            ..
        },
    ) = (&mut target, &scenario.traces.store)
    {
        services.withheld_env.push(name.clone());
    }
    Ok(target)
}

/// Marks the results partial when the run was interrupted or broke, writes every report, prints
/// the verdicts and turns the outcome into the exit code.
fn conclude(
    mut results: RunResults,
    error: Option<anyhow::Error>,
    signal: Option<&str>,
    options: &Options,
) -> Result<Exit> {
    let dir = options.out.as_path();
    if let Some(name) = signal {
        results.partial = true;
        results.stop_reason = Some(format!("interrupted by {name}"));
    } else if let Some(err) = &error {
        results.partial = true;
        results.stop_reason = Some(format!("{err:#}"));
    }
    results.finished_unix_ms = Some(chrono::Utc::now().timestamp_millis());
    let summary = rundir::summary(results);
    crate::report::write_all(dir, &summary)
        .with_context(|| format!("writing the reports to {}", dir.display()))?;
    println!("{}", crate::report::verdicts_md(&summary));
    if !options.quiet {
        eprintln!("reports: {}", dir.display());
    }
    if let Some(err) = error {
        return Err(err.context(format!(
            "the run broke; a partial report is in {}",
            dir.display()
        )));
    }
    if let Some(name) = signal {
        eprintln!(
            "tracebench: interrupted by {name}; the target was restored and a partial report \
             written to {}",
            dir.display()
        );
        return Ok(Exit::Broken);
    }
    Ok(summary.analysis.exit())
}

/// What every step of a run needs.
struct Ctx<'a> {
    scenario: &'a Scenario,
    dir: &'a Path,
    cancel: &'a CancellationToken,
    progress: &'a Progress,
    /// `{run}`: new per run, so no two runs send the same bodies.
    run_id: String,
    cursor: Cursor,
    counter: Counter,
}

impl Ctx<'_> {
    /// The cells of the plan, each persisted as soon as it is measured (the discarded first
    /// cell is measured like the others, then dropped), until the run stops at a look
    /// (`sequential`) or the plan ends.
    async fn measure(
        &mut self,
        plan: &[Cell],
        target: &mut Target,
        store: &TraceBackend,
        results: &mut RunResults,
    ) -> Result<()> {
        let design = self.scenario.design();
        let mut clock = Clock::start();
        for (i, cell) in plan.iter().enumerate() {
            if self.cancel.is_cancelled() {
                break;
            }
            if !cell.discard {
                clock.measuring();
            }
            let measured = cell::run_cell(self, cell, target, store)
                .await
                .with_context(|| {
                    format!(
                        "cell {} ({} at {} rps, round {})",
                        cell.order + 1,
                        cell.mode,
                        cell.rate,
                        cell.round + 1
                    )
                })?;
            let Some(result) = measured else { break };
            self.progress.cell_done(&result, cell.discard);
            if cell.discard {
                continue;
            }
            self.counter.push(store, self.scenario, &result);
            results.cells.push(result);
            self.counter.collect(store, results);
            rundir::persist(self.dir, results)?;
            let round_done = plan.get(i + 1).is_none_or(|next| next.round != cell.round);
            if round_done
                && !self.cancel.is_cancelled()
                && self.stops(&design, cell.round + 1, &clock, results)
            {
                self.progress.plan_ended();
                break;
            }
        }
        Ok(())
    }

    /// At a look (after `rounds` rounds), analyzes the results so far, says how many budgets
    /// are decided, and whether and why the run stops.
    fn stops(&self, design: &Design, rounds: u32, clock: &Clock, results: &RunResults) -> bool {
        if !design.looks().contains(&rounds) {
            return false;
        }
        let analysis = crate::analysis::analyze(results);
        let (decided, total) = analysis.decided();
        let look = Look {
            rounds,
            decided,
            total,
        };
        self.progress.note(&sequential::look_note(look, &analysis));
        let elapsed = clock.elapsed();
        let step = sequential::next_step(
            design,
            look,
            elapsed,
            clock.per_round(rounds),
            self.scenario.load.max_duration,
        );
        match step {
            Step::Continue => false,
            Step::Stop(stop) => {
                self.progress.note(&format!(
                    "the run stops: {}",
                    stop.describe(rounds, elapsed)
                ));
                true
            }
        }
    }

    /// Counts the cells still waiting for their ingestion wait, and persists them.
    async fn count_rest(&mut self, store: &TraceBackend, results: &mut RunResults) -> Result<()> {
        if self.counter.has_pending() {
            self.progress.note(&format!(
                "counting the last cells' traces (ingestion wait {})",
                humantime::format_duration(self.scenario.load.ingestion_wait)
            ));
        }
        self.counter.count_rest(store, self.scenario).await;
        if self.counter.collect(store, results) {
            rundir::persist(self.dir, results)?;
        }
        match self.counter.take_error() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// After the last cell, switch to the mode that samples the most and send the probes (a
    /// probe needs its trace kept).
    async fn probe(
        &mut self,
        target: &mut Target,
        store: &TraceBackend,
        results: &mut RunResults,
    ) -> Result<()> {
        let scenario = self.scenario;
        if !store.available() {
            return Ok(());
        }
        let Some(mode) = scenario
            .modes
            .iter()
            .filter(|m| m.sampling_ratio > 0.0)
            .max_by(|a, b| a.sampling_ratio.total_cmp(&b.sampling_ratio))
        else {
            return Ok(());
        };
        if scenario.traces.probes == 0 {
            return Ok(());
        }
        self.progress.note(&format!(
            "probes: applying mode {} (sampling ratio {}) and sending {} probe requests",
            mode.name, mode.sampling_ratio, scenario.traces.probes
        ));
        let env = ModeEnv::uniform(&mode.name, scenario.service_names(), &mode.env);
        // Not raced against `cancel`: see run::cell.
        target
            .apply(&env, self.cancel)
            .await
            .context("applying the probe mode")?;
        if self.cancel.is_cancelled() {
            return Ok(());
        }
        target.mark("probes")?;
        let probes = tokio::select! {
            probes = store.probe(scenario) => probes.context("sending the probes")?,
            () = self.cancel.cancelled() => return Ok(()),
        };
        results.probes = probes;
        rundir::persist(self.dir, results)
    }
}

/// Runs each distinct build command once, in order; output shown unless `quiet` (then shown only
/// when the command fails).
async fn build(scenario: &Scenario, quiet: bool) -> Result<()> {
    for command in scenario.build_commands() {
        let line = std::iter::once(command.program.display().to_string())
            .chain(command.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        if !quiet {
            eprintln!("building: {line} (in {})", command.cwd.display());
        }
        let mut cmd = tokio::process::Command::new(&command.program);
        cmd.args(&command.args).current_dir(&command.cwd);
        let output = if quiet {
            cmd.output().await
        } else {
            cmd.status().await.map(|status| std::process::Output {
                status,
                stdout: Vec::new(),
                stderr: Vec::new(),
            })
        }
        .with_context(|| format!("cannot start the build command `{line}`"))?;
        if !output.status.success() {
            if quiet {
                eprint!("{}", String::from_utf8_lossy(&output.stderr));
            }
            anyhow::bail!("the build command `{line}` failed: {}", output.status);
        }
    }
    Ok(())
}
