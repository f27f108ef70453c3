//! The built-in sink, one test binary: its OTLP receivers against real SDK exporters (Rust and
//! Python), what it refuses, and its decoders fuzzed.

mod exporters;
mod fuzz;
mod python;
mod rejects;
