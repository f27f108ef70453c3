//! `tracebench run`.

use crate::cli::RunArgs;
use crate::exit::Exit;

pub async fn run(_args: RunArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench run` is not implemented yet")
}
