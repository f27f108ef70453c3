//! tracebench measures what distributed tracing costs a service stack.
//!
//! Layout (see the README's architecture section):
//! - [`cli`]: clap definitions only; [`commands`] turns them into calls on the modules below.
//! - [`load`]: the open-loop driver (HTTP and gRPC), recording into HDR histograms.
//! - [`traces`]: the built-in OTLP sink, the Tempo client, counting and verification.
//! - [`target`]: applying a tracing mode to the system under test, and restoring it.
//! - [`resources`]: CPU and memory samplers (docker stats, /proc).
//! - [`scenario`]: the scenario file, validated with file:line:key errors, and the plan of cells.
//! - [`results`]: what a run measured, as plain serde data (the contract of analysis and reports).
//! - [`analysis`]: overheads, confidence intervals and verdicts derived from the results.
//! - [`run`]: `tracebench run`, the whole data flow: cells, trace checks, restore, reports.
//! - [`compare`]: a candidate run against a baseline run, for CI.
//! - [`exit`]: exit codes.

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod exit;
pub mod load;
pub mod report;
pub mod resources;
pub mod results;
pub mod run;
pub mod scenario;
pub mod target;
pub mod traces;
