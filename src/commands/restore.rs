//! `tracebench restore`: puts back what runs that died left changed, saying what it did.

use crate::cli::RestoreArgs;
use crate::exit::Exit;
use crate::run::{lock, recovery};

pub async fn run(args: RestoreArgs) -> anyhow::Result<Exit> {
    let recovered = recovery::restore(&lock::state_dir(), args.run_dir.as_deref()).await?;
    if recovered.is_empty() {
        println!("nothing to restore: no run on this host left its target changed");
    }
    for r in &recovered {
        if r.actions.is_empty() {
            println!("{}: already restored", r.journal.display());
        } else {
            println!("{}:", r.journal.display());
            for action in &r.actions {
                println!("  {action}");
            }
        }
    }
    Ok(Exit::Pass)
}
