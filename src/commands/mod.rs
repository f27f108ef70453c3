//! One function per subcommand: turn parsed arguments into the library's options, run, print.

mod drive;
mod sink;
mod stats;
mod traces;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Drive(args) => drive::run(*args).await,
        Command::Sink(args) => sink::run(args).await,
        Command::Traces(cmd) => traces::run(cmd).await,
        Command::Stats(args) => stats::run(args).await,
    }
}
