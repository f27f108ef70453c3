//! tracebench's test toolkit, one crate that every integration test, bench and the demo crate's
//! tests use (so nothing is declared twice and nothing needs `allow(dead_code)`):
//!
//! - [`net`]: a free port, the time, one HTTP/1.1 client (on hyper), waiting for `/health`;
//! - [`skip`]: skip loudly, or fail when CI requires what is missing;
//! - [`demo`]: the demo stack as local processes, and the workspace's binaries;
//! - [`helper`]: the `tb-helper` service and its offline image;
//! - [`target`]: helper containers and networks on the real Docker Engine, the standard modes;
//! - [`compose`]: the offline compose stack;
//! - [`sink`]: OTLP requests and exports to the sink;
//! - [`run`]: short `tracebench run` scenarios on the demo stack;
//! - [`report`]: checks of every report file;
//! - [`analysis`]: synthetic runs with known effects.

pub mod analysis;
pub mod compose;
pub mod demo;
pub mod helper;
pub mod net;
pub mod report;
pub mod run;
pub mod sink;
pub mod skip;
pub mod target;

/// The repository's root (the tracebench package), where scripts/ and scenarios/ are.
pub fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ sits in the repository")
}
