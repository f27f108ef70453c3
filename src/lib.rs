//! tracebench measures what distributed tracing costs a service stack.
//!
//! Layout (see the README's architecture section):
//! - [`cli`]: clap definitions only; [`commands`] turns them into calls on the modules below.
//! - [`load`]: the open-loop driver (HTTP and gRPC), recording into HDR histograms, keeping the
//!   slowest requests with their trace IDs; shards of one schedule, and merging their outputs.
//! - [`sink`]: the built-in OTLP sink: receivers, decoders, the bounded span store, and Tempo's
//!   query API over it.
//! - [`traces`]: the Tempo client, counting and verification (against Tempo or the sink), and
//!   where a slow request's time went by its trace.
//! - [`control`]: the target's services under control: applying a tracing mode (restarting
//!   processes or containers), restoring them, and the journal that makes restore survive a crash.
//! - [`resources`]: CPU and memory samplers (docker stats, /proc).
//! - [`scenario`]: the scenario file, validated with file:line:key errors, and the plan of cells.
//! - [`results`]: what a run measured, as plain serde data (the contract of analysis and reports).
//! - [`analysis`]: overheads, confidence intervals and verdicts derived from the results, and
//!   candidate builds against the base when a run measures several (variants).
//! - [`run`]: `tracebench run`, the whole data flow: cells, trace checks, restore, reports.
//! - [`compare`]: a candidate run against one or more baseline runs, for CI.
//! - [`trend`]: each budget's overhead across runs with its change points, for release reviews.
//! - [`report`]: one exporter per format (JSON, CSV, HdrHistogram logs, Markdown, HTML, charts),
//!   all rendering the same computed summary.
//! - [`error`]: the usage error (exit 2) any module may raise; [`exit`]: exit codes, and the
//!   mapping of errors to them.
//!
//! Beside this crate: `demo/` (the stack measured out of the box), `proto/` (its gRPC types, all
//! the driver needs of it) and `testkit/` (what the tests share: ports, one HTTP client, the demo
//! stack, the helper service, Docker and compose set-ups, synthetic runs, report checks).
//! Integration tests live in `tests/`, one binary per area (`run_e2e`, `target/`, `sink/`, ...).

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod control;
pub mod error;
pub mod exit;
pub mod load;
pub mod report;
pub mod resources;
pub mod results;
pub mod run;
pub mod scenario;
pub mod sink;
pub mod traces;
pub mod trend;
