//! Exit codes, one meaning each, so CI can tell a failed budget from a broken run.

use std::process::ExitCode;

use crate::error::UsageError;

/// What a command's exit code says. Documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every budget passed (or the command simply succeeded).
    Pass = 0,
    /// A budget failed, a regression was found, or a check (probes) failed.
    Fail = 1,
    /// Bad usage or a bad scenario.
    Usage = 2,
    /// At least one verdict is inconclusive and none failed.
    Inconclusive = 3,
    /// The run itself broke: target never ready, trace store unreachable when required, I/O.
    Broken = 4,
}

impl Exit {
    /// The exit code for an error that ended a command: usage mistakes (including a bad
    /// scenario) are 2, the rest 4.
    pub fn of_error(err: &anyhow::Error) -> Exit {
        let usage = |cause: &(dyn std::error::Error + 'static)| {
            cause.is::<UsageError>() || cause.is::<crate::scenario::ScenarioError>()
        };
        if err.chain().any(usage) {
            Exit::Usage
        } else {
            Exit::Broken
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  every budget passed (or the command succeeded); a run of variants: no regression
  1  a budget failed, a regression was found (compare, or a run of variants), or a trace
     check failed
  2  bad usage or a bad scenario
  3  inconclusive: no budget failed but at least one could not be decided
  4  the run itself broke (target never ready, trace store unreachable, I/O) or was
     interrupted (Ctrl-C/SIGTERM): the target is restored and a partial report written";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_map_to_2_even_with_context() {
        let err = anyhow::Error::new(UsageError("bad".into())).context("reading scenario");
        assert_eq!(Exit::of_error(&err), Exit::Usage);
        assert_eq!(Exit::of_error(&anyhow::anyhow!("io")), Exit::Broken);
    }
}
