//! Thin entry point: parse the command line, run one command, map its outcome to an exit code.
use std::process::ExitCode;

use clap::Parser;
use tracebench::{cli::Cli, commands, exit::Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tracebench: cannot start the async runtime: {err}");
            return Exit::Broken.into();
        }
    };
    let outcome = runtime.block_on(commands::run(cli));
    // Not a plain drop, which waits for every blocking task: the external target's prompt may
    // still be reading a terminal line after Ctrl-C abandoned it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("tracebench: {err:#}");
            Exit::of_error(&err).into()
        }
    }
}
