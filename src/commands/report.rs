//! `tracebench report`.

use crate::cli::ReportArgs;
use crate::exit::Exit;

pub async fn run(_args: ReportArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tracebench report` is not implemented yet")
}
