//! resources (to be built).
