//! The `traces` and `sink` commands as a user runs them, and trace volume on the demo stack at
//! each sampling setting.

mod cli;
mod e2e;
