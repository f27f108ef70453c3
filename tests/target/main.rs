//! Each target on real services: local processes, containers on the real Docker Engine, the
//! offline compose stack, and the demo stack as processes exporting to the sink.

mod compose;
mod demo;
mod docker;
mod process;
