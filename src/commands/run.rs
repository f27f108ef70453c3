//! `tracebench run`: picks the scenario (the file given, `./scenarios/quick.toml`, or the
//! embedded default) and the run directory, then hands over to [`crate::run`].

use std::path::Path;

use crate::cli::RunArgs;
use crate::exit::Exit;
use crate::run::{self, Options};
use crate::scenario::Scenario;

pub async fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let local = Path::new("scenarios/quick.toml");
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None if local.exists() => Scenario::load(local)?,
        None => Scenario::quick()?,
    };
    // Checked before anything starts: a typo costs a second, not a run.
    crate::analysis::thresholds::Thresholds::parse(&args.thresholds)?;
    let options = Options {
        thresholds: args.thresholds,
        out: args.out.unwrap_or_else(|| run::default_dir(&scenario)),
        quiet: args.quiet,
        seed: args.seed,
        history: args.history,
        label: args.label.or_else(|| {
            let sha = std::env::var("GITHUB_SHA").ok()?;
            Some(sha.chars().take(12).collect::<String>()).filter(|s| !s.is_empty())
        }),
    };
    run::run(&scenario, &options).await
}
