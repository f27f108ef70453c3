//! Shared test data for the report tests.
pub mod synthetic;
