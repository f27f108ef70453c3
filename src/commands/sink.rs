//! `tracebench sink`.

use crate::cli::SinkArgs;
use crate::exit::Exit;

pub async fn run(_args: SinkArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench sink` is not implemented yet")
}
