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
    Drive(Box<DriveArgs>),
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
#[command(group(clap::ArgGroup::new("target").required(true).args(["url", "grpc"])))]
pub struct DriveArgs {
    /// URL to load over HTTP/1.1 (http:// only), e.g. http://127.0.0.1:8080/api/auth/register.
    #[arg(long)]
    pub url: Option<String>,
    /// Drive `user.UserService/Register` at ADDR (host:port) over gRPC instead of HTTP.
    #[arg(long, value_name = "ADDR")]
    pub grpc: Option<String>,
    /// HTTP method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Request body; `{seq}`, `{uuid}` and `{run}` are replaced per request.
    /// Default for POST, PUT and PATCH: a unique user registration.
    #[arg(long)]
    pub body: Option<String>,
    /// Extra request header, `Name: value` (repeatable). Bodies default to JSON content.
    #[arg(long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// Requests per second, sent on schedule whatever the responses do (open loop).
    #[arg(long, default_value_t = 100.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Length of the measured run, e.g. 10s, 2m.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// Traffic at the same rate before measuring, not recorded, e.g. 2s.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub warmup: std::time::Duration,
    /// Arrival spacing: `uniform` (exactly 1/rate apart) or `poisson`.
    #[arg(long, default_value = "uniform")]
    pub arrivals: crate::load::Arrivals,
    /// Requests on the wire at once: HTTP keep-alive connections, or gRPC channels.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Cap on outstanding requests; at the cap a due request is dropped (and counted).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Statuses counted as success, comma-separated [default: 200,201,409; with --grpc:
    /// OK,ALREADY_EXISTS (names or numbers)].
    #[arg(long, value_delimiter = ',')]
    pub expect: Vec<String>,
    /// A request without a response after this long is an error, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Write the summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Write per-second latency histograms to FILE (HdrHistogram V2 interval log, µs).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<std::path::PathBuf>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "expected a positive number of requests per second, got `{s}`"
        )),
    }
}

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
pub struct StatsArgs {}

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
