//! `tracebench traces count` and `tracebench traces verify`.

use crate::cli::TracesCommand;
use crate::exit::Exit;

pub async fn run(cmd: TracesCommand) -> anyhow::Result<Exit> {
    match cmd {
        TracesCommand::Count(_) => {
            anyhow::bail!("`tracebench traces count` is not implemented yet")
        }
        TracesCommand::Verify(_) => {
            anyhow::bail!("`tracebench traces verify` is not implemented yet")
        }
    }
}
