//! `tracebench drive`.

use crate::cli::DriveArgs;
use crate::exit::Exit;

pub async fn run(_args: DriveArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench drive` is not implemented yet")
}
