//! analysis (to be built).
