//! Overheads, confidence intervals and budget verdicts: pure functions from a run's results
//! ([`crate::results::RunResults`]) to an [`Analysis`], computed once and rendered by every
//! exporter.

mod model;

pub use model::*;
