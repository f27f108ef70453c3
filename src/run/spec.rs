//! The one place a scenario's `[request]` and `[load]` become the driver's [`LoadSpec`] for one
//! cell: the endpoint as the scenario checked it, the cell's rate and length, and the run's
//! request numbering.

use std::time::Duration;

use crate::load::LoadSpec;
use crate::scenario::Scenario;

/// The load of one cell at `rate` for `duration`, warm-up excluded (the run warms up separately,
/// see `cell`). `run_id` fills the `{run}` placeholder, and request numbers start at `first_seq`.
pub fn load_spec(
    scenario: &Scenario,
    rate: f64,
    duration: Duration,
    run_id: &str,
    first_seq: u64,
) -> LoadSpec {
    let request = &scenario.request;
    LoadSpec {
        target: request.endpoint.clone(),
        rate,
        duration,
        warmup: Duration::ZERO,
        connections: request.connections as usize,
        max_in_flight: request.max_in_flight as usize,
        arrivals: request.arrivals,
        request_timeout: request.timeout,
        // Every request sent either answers or times out (and is recorded) before the cell ends.
        drain_timeout: request.timeout + Duration::from_secs(1),
        run_id: run_id.to_string(),
        first_seq,
        slowest: scenario.traces.slowest,
        start_at: None,
        phase: Duration::ZERO,
    }
}
