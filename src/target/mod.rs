//! target (to be built).
