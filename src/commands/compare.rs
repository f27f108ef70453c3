//! `tracebench compare`.

use crate::cli::CompareArgs;
use crate::exit::Exit;

pub async fn run(_args: CompareArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench compare` is not implemented yet")
}
