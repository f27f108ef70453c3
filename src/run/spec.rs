//! The one place a scenario's `[request]` and `[load]` become the driver's [`LoadSpec`]: the
//! scenario module validates, the load module drives, and neither knows the other's types.

use std::time::Duration;

use anyhow::{Context, Result};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};

use crate::load::{self, GrpcEndpoint, HttpEndpoint, LoadSpec};
use crate::scenario::{RequestKind, Scenario};

/// The load of one cell at `rate` for `duration`, warm-up excluded (the run warms up separately,
/// see `cell`). `run_id` fills the `{run}` placeholder, and request numbers start at `first_seq`.
pub fn load_spec(
    scenario: &Scenario,
    rate: f64,
    duration: Duration,
    run_id: &str,
    first_seq: u64,
) -> Result<LoadSpec> {
    let request = &scenario.request;
    let target = match &request.kind {
        RequestKind::Http {
            url,
            method,
            headers,
            body,
            expect,
        } => {
            let url: Uri = url
                .parse()
                .with_context(|| format!("request.url {url:?} is not a URL"))?;
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                // Validated by the scenario; a failure here is a bug, reported, not a panic.
                let name = HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("header name {name:?}"))?;
                let value = HeaderValue::from_str(value)
                    .with_context(|| format!("header value {value:?}"))?;
                map.insert(name, value);
            }
            let expect = expect
                .iter()
                .map(|&s| StatusCode::from_u16(s).with_context(|| format!("status {s}")))
                .collect::<Result<_>>()?;
            load::Endpoint::Http(HttpEndpoint {
                url,
                method: method.clone(),
                headers: map,
                body: body.clone(),
                expect,
            })
        }
        RequestKind::Grpc { addr, body } => load::Endpoint::Grpc(GrpcEndpoint {
            uri: format!("http://{addr}")
                .parse()
                .with_context(|| format!("gRPC address {addr}"))?,
            expect: GrpcEndpoint::DEFAULT_EXPECT.to_vec(),
            body: body.clone(),
        }),
    };
    Ok(LoadSpec {
        target,
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
    })
}
