//! One function per subcommand: turn parsed arguments into the library's options, run, print.

mod compare;
mod drive;
mod merge;
mod report;
mod restore;
mod run;
mod sink;
mod stats;
mod traces;
mod trend;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Drive(args) => drive::run(*args).await,
        Command::Sink(args) => sink::run(args).await,
        Command::Traces(cmd) => traces::run(cmd).await,
        Command::Stats(args) => stats::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Compare(args) => compare::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Trend(args) => trend::run(args).await,
        Command::Merge(args) => merge::run(args),
        Command::Restore(args) => restore::run(args).await,
    }
}
