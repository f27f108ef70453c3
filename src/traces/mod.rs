//! traces (to be built).
