//! Command-line definitions (clap derive). Parsing only: `commands` turns these into calls on the
//! library modules, which never see clap.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Run a scenario: every mode at every rate, in rounds until every budget is decided (at most
    /// `load.max_rounds`, `load.max_duration`), then verdicts per budget and reports.
    Run(RunArgs),
    /// Compare a candidate run against a baseline run; exit 1 on regression.
    Compare(CompareArgs),
    /// Re-render the reports of a run directory from its results.
    Report(ReportArgs),
    /// Each budget's overhead across runs, for release reviews: charts, change points, and
    /// exports for Bencher (BMF JSON) and Apache Otava (CSV).
    Trend(TrendArgs),
    /// Merge several drivers' outputs (`drive --json X.json --hlog X.hlog`) into one summary
    /// and one interval log: exact combined percentiles, summed rates and counts.
    Merge(MergeArgs),
    /// Put back the services a run left changed when it was killed before it could: containers
    /// as they were (ID, name, settings, running or not), left-over service processes ended.
    Restore(RestoreArgs),
}

// ---- merge (src/commands/merge.rs) ----
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Each driver's summary (`drive --json`); its interval log must lie beside it with the
    /// extension .hlog (`drive --hlog`).
    #[arg(required = true, value_name = "SUMMARY.json")]
    pub summaries: Vec<std::path::PathBuf>,
    /// Write the merged summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Write the merged per-second histograms to FILE (HdrHistogram V2 interval log, µs).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<std::path::PathBuf>,
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
    /// The rate of all shards together, with --shard: this driver sends its share.
    #[arg(long, value_name = "RATE", value_parser = parse_rate, requires = "shard",
          conflicts_with = "rate")]
    pub total_rate: Option<f64>,
    /// This driver's part of --total-rate: INDEX/COUNT, e.g. 0/3 (INDEX from 0). The shards of
    /// one schedule, started together (--start-at), send exactly that schedule.
    #[arg(long, value_name = "I/N", requires = "total_rate")]
    pub shard: Option<crate::load::Shard>,
    /// Begin the schedule (the warm-up, if any) at this instant, RFC 3339 or Unix seconds, so
    /// that several drivers start together and their seconds line up.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Length of the measured run, e.g. 10s, 2m.
    #[arg(long, default_value = "10s", value_parser = crate::load::parse_duration)]
    pub duration: std::time::Duration,
    /// Traffic at the same rate before measuring, not recorded, e.g. 2s.
    #[arg(long, default_value = "0s", value_parser = crate::load::parse_duration)]
    pub warmup: std::time::Duration,
    /// Arrival spacing: `uniform` (exactly 1/rate apart) or `poisson`.
    #[arg(long, default_value = "uniform")]
    pub arrivals: crate::load::Arrivals,
    /// Requests on the wire at once: HTTP keep-alive connections, or gRPC channels.
    #[arg(long, default_value_t = crate::load::DEFAULT_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Cap on outstanding requests; at the cap a due request is dropped (and counted).
    #[arg(long, default_value_t = crate::load::DEFAULT_MAX_IN_FLIGHT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Statuses counted as success, comma-separated [default: 200,201; with --grpc:
    /// OK,ALREADY_EXISTS (names or numbers)].
    #[arg(long, value_delimiter = ',')]
    pub expect: Vec<String>,
    /// A request without a response after this long is an error, e.g. 30s.
    #[arg(long, default_value = "10s", value_parser = crate::load::parse_duration)]
    pub timeout: std::time::Duration,
    /// Show the N slowest requests, with the trace each response named (0: none).
    #[arg(long, value_name = "N", default_value_t = crate::load::DEFAULT_SLOWEST)]
    pub slowest: usize,
    /// The response header (or gRPC metadata key) naming the request's trace: a W3C
    /// `traceresponse` value or a bare 32-digit trace ID.
    #[arg(long, value_name = "NAME", default_value = crate::load::DEFAULT_TRACE_HEADER,
          value_parser = parse_header_name)]
    pub trace_header: http::HeaderName,
    /// Write the summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Write per-second latency histograms to FILE (HdrHistogram V2 interval log, µs).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<std::path::PathBuf>,
}

/// An instant as RFC 3339 (`2026-12-02T10:00:00Z`) or Unix seconds (`1796205600`, `1796205600.5`).
fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let expected = || {
        format!("expected an RFC 3339 time such as 2026-12-02T10:00:00Z or Unix seconds, got {s:?}")
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.into());
    }
    let secs: f64 = s.parse().map_err(|_| expected())?;
    let since = std::time::Duration::try_from_secs_f64(secs).map_err(|_| expected())?;
    Ok(std::time::UNIX_EPOCH + since)
}

fn parse_header_name(s: &str) -> Result<http::HeaderName, String> {
    http::HeaderName::from_bytes(s.as_bytes())
        .map_err(|_| format!("expected a header name such as traceresponse, got {s:?}"))
}

/// The demo stack's services, root first: what `traces verify` expects unless told otherwise.
const DEMO_SERVICES: &str = "api-gateway,user-auth-service";

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate = s
        .parse::<f64>()
        .map_err(|_| format!("expected a number of requests per second, got `{s}`"))?;
    crate::load::check_rate(rate)
}

// ---- sink (src/commands/sink.rs) ----
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Listen address of the OTLP gRPC receiver.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub otlp_grpc: SocketAddr,
    /// Listen address of the OTLP/HTTP receiver (`POST /v1/traces`, protobuf or JSON, gzip).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub otlp_http: SocketAddr,
    /// Listen address of the Tempo-style query API (`/ready`, `/api/search`, `/api/traces/ID`).
    #[arg(long, default_value = "127.0.0.1:3200")]
    pub api: SocketAddr,
    /// Spans kept in memory; beyond it the oldest traces are dropped (and counted).
    #[arg(long, default_value_t = crate::sink::DEFAULT_MAX_SPANS)]
    pub max_spans: usize,
    /// Bytes of data: the kept spans' estimated heap plus room for decoding the largest export;
    /// beyond it too the oldest traces are dropped.
    #[arg(long, default_value_t = crate::sink::DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,
    /// Largest accepted export body in bytes, at most 1 GiB (larger: HTTP 413, gRPC
    /// OUT_OF_RANGE).
    #[arg(long, default_value_t = crate::sink::DEFAULT_MAX_BODY_BYTES,
          value_parser = body_limit)]
    pub max_body_bytes: usize,
}

fn body_limit(value: &str) -> Result<usize, String> {
    let limit = crate::sink::MAX_BODY_LIMIT;
    match value.parse::<usize>() {
        Ok(n) if (1..=limit).contains(&n) => Ok(n),
        _ => Err(format!("expected a byte count from 1 to {limit}")),
    }
}

// ---- traces (src/commands/traces.rs) ----
#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Traces per minute per service over a window.
    Count(TracesCountArgs),
    /// Send probe requests with known trace IDs and check each arrives whole and linked.
    Verify(TracesVerifyArgs),
}

#[derive(Debug, Args)]
pub struct TracesCountArgs {
    /// Base URL of Tempo (or of `tracebench sink`'s query API).
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    pub tempo: String,
    /// Service whose traces (rooted at it) are counted; repeatable.
    #[arg(long = "service", default_values_t = ["api-gateway".to_string()])]
    pub services: Vec<String>,
    /// Window ending with the running second, e.g. `10m` (default `10m` when no --start).
    #[arg(long, value_parser = crate::load::parse_duration, conflicts_with_all = ["start", "end"])]
    pub since: Option<Duration>,
    /// Window start: RFC 3339 (`2026-11-25T16:00:00Z`) or unix seconds.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<u64>,
    /// Window end (default now): RFC 3339 or unix seconds.
    #[arg(long, value_parser = parse_time, requires = "start")]
    pub end: Option<u64>,
    /// Width of one row of the table.
    #[arg(long, value_parser = crate::load::parse_duration, default_value = "1m")]
    pub step: Duration,
    /// Traces asked for per search at first; a full answer splits the time slice, and a full
    /// one-second slice is asked again with four times the limit.
    #[arg(long, default_value_t = crate::traces::count::DEFAULT_SEARCH_LIMIT)]
    pub search_limit: usize,
    /// Services a complete trace holds spans of (comma-separated): also reports how many
    /// counted traces miss one.
    #[arg(long, value_delimiter = ',')]
    pub complete_with: Vec<String>,
    /// How to count: search (exact on every Tempo version), or TraceQL metrics (one request,
    /// placed by the version Tempo reports; refuses a window it cannot count exactly).
    #[arg(long, value_enum, default_value_t = CountMethodArg::Search)]
    pub method: CountMethodArg,
    /// Also write the counts as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CountMethodArg {
    Search,
    Metrics,
}

#[derive(Debug, Args)]
pub struct TracesVerifyArgs {
    /// Base URL of the gateway the probes are sent to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// Path the probe requests POST a register payload to.
    #[arg(long, default_value = "/api/auth/register")]
    pub path: String,
    /// Base URL of Tempo (or of `tracebench sink`'s query API).
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    pub tempo: String,
    /// Services every probe trace must contain; the first must own the root span.
    #[arg(long, value_delimiter = ',', default_value = DEMO_SERVICES)]
    pub services: Vec<String>,
    /// Number of probe requests.
    #[arg(long, default_value_t = 5)]
    pub probes: usize,
    /// How long to wait for the probes' traces to become queryable.
    #[arg(long, value_parser = crate::load::parse_duration, default_value = "60s")]
    pub timeout: Duration,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// A point in time as unix seconds, from RFC 3339 or plain unix seconds.
pub fn parse_time(s: &str) -> Result<u64, String> {
    /// Unix nanoseconds are int64 in OTLP and Tempo: times up to 2262-04-11.
    const LAST_S: u64 = i64::MAX as u64 / 1_000_000_000;
    let secs = match s.parse::<u64>() {
        Ok(secs) => Some(secs),
        Err(_) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| u64::try_from(t.timestamp()).ok()),
    };
    match secs {
        Some(secs) if secs <= LAST_S => Ok(secs),
        Some(_) => Err(format!(
            "time {s:?} is after 2262-04-11, the last second unix nanoseconds can hold"
        )),
        None => Err(format!(
            "invalid time {s:?}: expected RFC 3339 (2026-11-25T16:00:00Z) or unix seconds"
        )),
    }
}

// ---- stats (src/commands/stats.rs) ----
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["container", "pid"])))]
pub struct StatsArgs {
    /// A container to watch, by name or ID (repeatable). Figures as `docker stats` computes them.
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,
    /// A local process to watch, by PID (repeatable), with every process under it. CPU from
    /// /proc ticks (with what they reaped), memory is VmRSS, both summed over the tree.
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// How long to watch, e.g. `10s`, `2m`; until Ctrl-C when not given.
    #[arg(long, value_parser = crate::load::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Time between two rows for processes, e.g. `1s`, `500ms` (containers: the daemon sends one
    /// reading a second whatever this says).
    #[arg(long, default_value = "1s", value_parser = crate::load::parse_duration)]
    pub interval: std::time::Duration,
    /// Also write every sample to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
}

// ---- run (src/commands/run.rs) ----
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct RunArgs {
    /// The scenario file [default: ./scenarios/quick.toml when it exists, else the embedded
    /// quick scenario: the demo stack as local processes with the built-in trace sink].
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// The run directory [default: reports/<UTC timestamp>-<scenario name>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print only the verdict table (no progress, no build output).
    #[arg(long, short)]
    pub quiet: bool,
    /// Seed of the order of cells, to reproduce a run's order [default: `load.seed` of the
    /// scenario, else a new one per run; printed and stored in summary.json].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Where earlier runs of the scenario are, for the variation between runs that widens each
    /// verdict (finished runs of the same scenario on this host; the newest 20) [default: the
    /// run directory's parent].
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// The version or commit this run measures, stored in summary.json for `trend` [default:
    /// the first 12 characters of $GITHUB_SHA when set].
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// With `[[variants]]`: override a regression threshold of the candidate against the base,
    /// e.g. `p50=10%`, `cpu-overhead=0.5pp` (repeatable; the keys and defaults of `compare`).
    #[arg(long = "threshold", value_name = "KEY=LIMIT")]
    pub thresholds: Vec<String>,
}

// ---- compare (src/commands/compare.rs) ----
#[derive(Debug, Args)]
#[command(
    after_help = "Figures and default thresholds (KEY=LIMIT; LIMIT is N% of the baseline \
or a number in the figure's unit):
  p50=10%  p99=10%  throughput=5%  errors=1pp  cpu=0.5pp  memory=5MB
  latency-overhead=0.5ms  cpu-overhead=0.5pp  memory-overhead=5MB  errors-overhead=0.5pp
A figure is beyond its threshold when the 95% interval of its change (candidate minus baseline,
Welch, from the variation between rounds of both runs) lies entirely beyond the threshold (an
error rate: its interval beyond the baseline's widened by the threshold; a one-round figure,
without an interval, never is). From 3 baseline runs on, the variation between runs is
estimated per figure and widens the interval; overheads take absolute thresholds only.
Overheads (mode minus baseline mode, measured in the same run: machine drift cancels) and the
error rate decide the exit code; absolute p50, p99, throughput, CPU and memory carry the drift
between the two runs too, so they are shown and flagged but decide only with --gate-absolute.
The Markdown table goes to stdout and is appended to $GITHUB_STEP_SUMMARY when set.
Exit 1 on regression, 2 on an unreadable or foreign file."
)]
pub struct CompareArgs {
    /// The baseline run or runs: summary.json files, run directories holding one, or directories
    /// of run directories. From 3 runs on, the variation between runs is estimated per figure
    /// and widens each interval; with fewer it is unknown, and only the thresholds allow for it.
    #[arg(required = true, num_args = 1.., value_name = "BASELINE")]
    pub baselines: Vec<std::path::PathBuf>,
    /// The candidate run: a summary.json, or a run directory holding one.
    #[arg(required = true, value_name = "CANDIDATE")]
    pub candidate: std::path::PathBuf,
    /// Override a regression threshold, e.g. `p99=10%`, `cpu=0.5pp`, `memory=5MB` (repeatable).
    #[arg(long = "threshold", value_name = "KEY=LIMIT")]
    pub thresholds: Vec<String>,
    /// Let absolute figures (p50, p99, throughput, CPU, memory) fail the comparison too: only
    /// for two runs on the same quiet, dedicated machine.
    #[arg(long)]
    pub gate_absolute: bool,
}

// ---- trend (src/commands/trend.rs) ----
#[derive(Debug, Args)]
pub struct TrendArgs {
    /// The runs: summary.json files, run directories, or directories of run directories; put in
    /// time order by when each started.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Where the trend goes: trend.md, trend.html, charts/, bmf.json (the newest run),
    /// otava.csv and otava.yaml.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The runs' labels (a version or commit), oldest first, one per run [default: each run's
    /// `run --label` or $GITHUB_SHA, else its directory's name].
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,
}

// ---- report (src/commands/report.rs) ----
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directory holding summary.json; every report (Markdown, HTML, CSV, HdrHistogram
    /// logs, charts) is rewritten into it.
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,
}

// ---- restore (src/commands/restore.rs) ----
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The run directory whose target to put back, from its journal.jsonl [default: every
    /// target on this host that a run left changed].
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn drive_defaults_are_the_drivers_shared_ones() {
        let Command::Drive(args) =
            Cli::parse_from(["tracebench", "drive", "--url", "http://x/"]).command
        else {
            panic!("not drive")
        };
        assert_eq!(args.connections, crate::load::DEFAULT_CONNECTIONS);
        assert_eq!(args.max_in_flight, crate::load::DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(args.timeout, crate::load::DEFAULT_TIMEOUT);
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1764086400"), Ok(1_764_086_400));
        assert_eq!(parse_time("2025-11-25T16:00:00Z"), Ok(1_764_086_400));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
