//! load (to be built).
