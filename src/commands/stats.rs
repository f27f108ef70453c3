//! `tracebench stats`.

use crate::cli::StatsArgs;
use crate::exit::Exit;

pub async fn run(_args: StatsArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench stats` is not implemented yet")
}
