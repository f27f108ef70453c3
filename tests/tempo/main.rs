//! The Tempo client and trace counting, against the sink and against a Tempo double built from
//! Tempo's source (`double/`), version by version.

mod client;
mod counting;
mod double;
