//! Counting traces per step (usually a minute) per service, over a window.
//!
//! What is counted: traces **rooted** at the service, i.e. whose root span (the span without a
//! parent) belongs to it, in the step holding the root span's start. That is one per request
//! entering the system there, the figure "1 trace per request" is about. A downstream service
//! (the demo's auth) roots no traces and counts 0: ask for the entry service.
//!
//! Two ways, same answer: TraceQL metrics (`count_over_time` over root spans of the service) where
//! the server offers it; otherwise search, over time slices one step long, splitting a slice in
//! two when its answer is full (a full answer is a lower bound, not a count), keeping traces whose
//! `rootServiceName` is the service and whose start lies in the slice, each trace id once.

use std::collections::HashSet;

use serde::Serialize;

use super::model::pad_trace_id;
use super::tempo::{Search, TempoClient, TempoError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountMethod {
    /// TraceQL metrics when the server answers them, else search.
    Auto,
    Metrics,
    Search,
}

#[derive(Debug, Clone)]
pub struct CountRequest {
    pub services: Vec<String>,
    /// Window `[start_s, end_s)` in unix seconds.
    pub start_s: u64,
    pub end_s: u64,
    pub step_s: u64,
    /// Traces asked for per search; a slice whose answer holds this many is split.
    pub search_limit: usize,
    pub method: CountMethod,
}

/// Traces per step for each service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceCounts {
    pub start_s: u64,
    pub end_s: u64,
    pub step_s: u64,
    /// `metrics` or `search`: how the counts were obtained.
    pub method: CountMethod,
    pub counted: &'static str,
    pub services: Vec<ServiceCounts>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCounts {
    pub service: String,
    /// One count per step, the first starting at `start_s`.
    pub per_step: Vec<u64>,
    pub total: u64,
    /// Requests it took (search splits show here).
    pub queries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error(transparent)]
    Tempo(#[from] TempoError),
    #[error(
        "more than {limit} traces of {service} in the second starting at {at_s}: \
         raise the search limit to count them"
    )]
    TooDense {
        service: String,
        at_s: u64,
        limit: usize,
    },
    #[error("invalid window: start {start_s} must be before end {end_s} and the step positive")]
    BadWindow { start_s: u64, end_s: u64 },
}

const COUNTED: &str =
    "traces whose root span belongs to the service, in the step holding the root span's start";

pub async fn count_traces(
    client: &TempoClient,
    request: &CountRequest,
) -> Result<TraceCounts, CountError> {
    if request.start_s >= request.end_s || request.step_s == 0 {
        return Err(CountError::BadWindow {
            start_s: request.start_s,
            end_s: request.end_s,
        });
    }
    let mut method = request.method;
    let mut services = Vec::new();
    for service in &request.services {
        if method != CountMethod::Search {
            match by_metrics(client, request, service).await {
                Ok(counts) => {
                    method = CountMethod::Metrics;
                    services.push(counts);
                    continue;
                }
                Err(TempoError::Refused { .. }) if method == CountMethod::Auto => {
                    method = CountMethod::Search;
                }
                Err(err) => return Err(err.into()),
            }
        }
        services.push(by_search(client, request, service).await?);
    }
    Ok(TraceCounts {
        start_s: request.start_s,
        end_s: request.end_s,
        step_s: request.step_s,
        method,
        counted: COUNTED,
        services,
    })
}

fn steps(request: &CountRequest) -> usize {
    (request.end_s - request.start_s).div_ceil(request.step_s) as usize
}

fn quoted(service: &str) -> String {
    format!("\"{}\"", service.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn by_metrics(
    client: &TempoClient,
    request: &CountRequest,
    service: &str,
) -> Result<ServiceCounts, TempoError> {
    let q = format!(
        "{{ resource.service.name = {} && nestedSetParent = -1 }} | count_over_time()",
        quoted(service)
    );
    let answer = client
        .metrics_query_range(&q, request.start_s, request.end_s, request.step_s)
        .await?;
    let mut per_step = vec![0; steps(request)];
    for sample in answer.series.iter().flat_map(|s| &s.samples) {
        let at_s = sample.timestamp_ms / 1000;
        if (request.start_s..request.end_s).contains(&at_s) {
            let step = ((at_s - request.start_s) / request.step_s) as usize;
            per_step[step] += sample.value.round().max(0.0) as u64;
        }
    }
    Ok(ServiceCounts {
        service: service.to_string(),
        total: per_step.iter().sum(),
        per_step,
        queries: 1,
    })
}

async fn by_search(
    client: &TempoClient,
    request: &CountRequest,
    service: &str,
) -> Result<ServiceCounts, CountError> {
    let q = format!("{{ resource.service.name = {} }}", quoted(service));
    let mut per_step = vec![0; steps(request)];
    let mut seen = HashSet::new();
    let mut queries = 0;
    let mut slices: Vec<(u64, u64)> = (request.start_s..request.end_s)
        .step_by(request.step_s as usize)
        .map(|a| (a, (a + request.step_s).min(request.end_s)))
        .collect();
    slices.reverse();
    while let Some((a, b)) = slices.pop() {
        let search = Search {
            q: q.clone(),
            start_s: a,
            end_s: b,
            limit: request.search_limit,
        };
        let answer = client.search(&search).await?;
        queries += 1;
        if answer.traces.len() >= request.search_limit {
            if b - a <= 1 {
                return Err(CountError::TooDense {
                    service: service.to_string(),
                    at_s: a,
                    limit: request.search_limit,
                });
            }
            let mid = a + (b - a) / 2;
            slices.push((mid, b));
            slices.push((a, mid));
            continue;
        }
        let (a_ns, b_ns) = (a * 1_000_000_000, b * 1_000_000_000);
        for trace in answer.traces {
            let start_ns = trace.start_time_unix_nano;
            if trace.root_service_name == service
                && (a_ns..b_ns).contains(&start_ns)
                && seen.insert(pad_trace_id(&trace.trace_id))
            {
                let step = ((start_ns / 1_000_000_000 - request.start_s) / request.step_s) as usize;
                per_step[step] += 1;
            }
        }
    }
    Ok(ServiceCounts {
        service: service.to_string(),
        total: per_step.iter().sum(),
        per_step,
        queries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_quoted_for_traceql() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn a_partial_last_step_still_counts() {
        let request = CountRequest {
            services: vec![],
            start_s: 0,
            end_s: 150,
            step_s: 60,
            search_limit: 10,
            method: CountMethod::Search,
        };
        assert_eq!(steps(&request), 3);
    }
}
