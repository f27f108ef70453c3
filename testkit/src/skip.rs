//! What a test does when the machine lacks something it needs (a Docker daemon, docker-compose,
//! a Python package): skip loudly, or fail when CI says it must be there.

/// Whether `variable` (`TRACEBENCH_REQUIRE_DOCKER`, `TRACEBENCH_REQUIRE_PYTHON`) asks for
/// failures instead of skips: set, and not to `0`.
pub fn required(variable: &str) -> bool {
    std::env::var(variable).is_ok_and(|v| v != "0")
}

/// `test` cannot run for want of `what`: a failure when `variable` is 1, else a skip that says
/// so in a line nobody misses (the caller then returns).
pub fn missing(test: &str, variable: &str, what: &str) {
    assert!(
        !required(variable),
        "{test}: {what}, but {variable} makes it required"
    );
    eprintln!(
        "\n################ SKIPPED {test}: {what}. Set {variable}=1 to fail instead. \
         ################\n"
    );
}
