//! Errors users match on that several modules raise. Kept apart from `exit` (which maps errors
//! to exit codes and so knows the scenario's errors too), so that a low module such as the driver
//! can say "bad usage" without depending on the modules above it.

/// A mistake in what the user asked for (flags, scenario file): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
