//! Command-line definitions (clap derive). Parsing only: `commands` turns these into calls on the
//! library modules, which never see clap.

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(name = "tracebench", version, about = "Measures what distributed tracing costs a service stack", after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive open-loop load at a fixed rate and report latency without coordinated omission.
    Drive(DriveArgs),
    /// Run the built-in trace sink: OTLP receivers plus a Tempo-style query API.
    Sink(SinkArgs),
    /// Count traces in a trace store, or verify that probe requests come back as whole traces.
    #[command(subcommand)]
    Traces(TracesCommand),
    /// Show CPU and memory of containers or processes, the way `docker stats` does.
    Stats(StatsArgs),
    /// Run a scenario: every mode at every rate, then verdicts per budget and reports.
    Run(RunArgs),
    /// Compare a candidate run against a baseline run; exit 1 on regression.
    Compare(CompareArgs),
    /// Re-render the reports of a run directory from its results.
    Report(ReportArgs),
}

// ---- drive (src/commands/drive.rs) ----
#[derive(Debug, Args)]
pub struct DriveArgs {}

// ---- sink (src/commands/sink.rs) ----
#[derive(Debug, Args)]
pub struct SinkArgs {}

// ---- traces (src/commands/traces.rs) ----
#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Traces per minute per service over a window.
    Count(TracesCountArgs),
    /// Send probe requests with known trace IDs and check each arrives whole and linked.
    Verify(TracesVerifyArgs),
}

#[derive(Debug, Args)]
pub struct TracesCountArgs {}

#[derive(Debug, Args)]
pub struct TracesVerifyArgs {}

// ---- stats (src/commands/stats.rs) ----
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["container", "pid"])))]
pub struct StatsArgs {
    /// A container to watch, by name or ID (repeatable). Figures as `docker stats` computes them.
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,
    /// A local process to watch, by PID (repeatable). CPU from /proc ticks, memory is VmRSS.
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// How long to watch, e.g. `10s`, `2m`; until Ctrl-C when not given.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Time between two rows for processes, e.g. `1s`, `500ms` (containers: the daemon sends one
    /// reading a second whatever this says).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: std::time::Duration,
    /// Also write every sample to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
}

// ---- run (src/commands/run.rs) ----
#[derive(Debug, Args)]
pub struct RunArgs {}

// ---- compare (src/commands/compare.rs) ----
#[derive(Debug, Args)]
#[command(
    after_help = "Figures and default thresholds (KEY=LIMIT; LIMIT is N% of the baseline \
or a number in the figure's unit):
  p50=10%  p99=10%  throughput=5%  errors=1pp  cpu=0.5pp  memory=5MB
  latency-overhead=0.5ms  cpu-overhead=0.5pp  memory-overhead=5MB
A figure regresses only when the candidate's 95% interval lies entirely beyond the baseline's
interval widened by the threshold. The Markdown table goes to stdout and is appended to
$GITHUB_STEP_SUMMARY when set. Exit 1 on regression, 2 on an unreadable or foreign file."
)]
pub struct CompareArgs {
    /// The baseline run: a summary.json, or a run directory holding one.
    pub baseline: std::path::PathBuf,
    /// The candidate run: a summary.json, or a run directory holding one.
    pub candidate: std::path::PathBuf,
    /// Override a regression threshold, e.g. `p99=10%`, `cpu=0.5pp`, `memory=5MB` (repeatable).
    #[arg(long = "threshold", value_name = "KEY=LIMIT")]
    pub thresholds: Vec<String>,
}

// ---- report (src/commands/report.rs) ----
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directory holding summary.json; every report (Markdown, HTML, CSV, HdrHistogram
    /// logs, charts) is rewritten into it.
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
