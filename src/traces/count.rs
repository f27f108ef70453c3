//! Counting traces per step (usually a minute) over a window, and how many are complete.
//!
//! What is counted: traces **rooted** at a service, i.e. whose root span (the span without a
//! parent) belongs to it, in the step holding the trace's start. That is one per request
//! entering the system there, the figure "1 trace per request" is about. With no service named,
//! every trace counts once whatever its root.
//!
//! The default way is search, because it is exact on every Tempo version: the window is cut
//! into half-open slices `[a, b)` (one step long, then split in two while an answer is full: a
//! full answer is a lower bound, not a count; at one second, the limit grows instead), and a
//! trace counts in the slice holding its `startTimeUnixNano`, each trace id once (an answer may
//! repeat one). Search answers also list each trace's services (`serviceStats`), which says
//! whether a trace is complete.
//!
//! TraceQL metrics (`count_over_time`, [`metrics`]) answer in one request, but how samples map to
//! time changed between Tempo versions: it is used only when asked for, reads the version from
//! `/api/status/buildinfo` ([`Server`]), and refuses an answer it cannot place exactly.
//!
//! Tempo 3 answers nothing newer than 30 s before now (`query_end_cutoff`, its default): a
//! window ending later is counted once that has passed ([`Server::ready_in`]).

pub mod metrics;
mod server;

use std::collections::HashSet;

use serde::Serialize;

use super::model::{TraceSearchMetadata, pad_trace_id};
use super::tempo::{Search, TempoClient, TempoError};
pub use server::Server;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountMethod {
    /// Search over half-open time slices: exact on every Tempo version.
    #[default]
    Search,
    /// TraceQL metrics, placed by the server's version.
    Metrics,
}

impl CountMethod {
    pub fn describe(self) -> &'static str {
        match self {
            CountMethod::Search => "search over half-open time slices",
            CountMethod::Metrics => "traceql count_over_time, placed by the Tempo version",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CountRequest {
    /// Services whose root traces are counted, each on its own; empty: every trace once.
    pub services: Vec<String>,
    /// A trace is complete when it holds a span of each of these (empty: not judged).
    pub complete_with: Vec<String>,
    /// Window `[start_s, end_s)` in unix seconds.
    pub start_s: u64,
    pub end_s: u64,
    pub step_s: u64,
    /// Traces asked for per search at first; grows when a one-second slice is full.
    pub search_limit: usize,
    pub method: CountMethod,
}

impl CountRequest {
    /// Root traces of each of `services` in `[start_s, end_s)`, per minute, by search from
    /// [`DEFAULT_SEARCH_LIMIT`] traces an answer: what `tracebench traces count` does by default.
    pub fn roots(services: &[&str], start_s: u64, end_s: u64) -> CountRequest {
        CountRequest {
            services: services.iter().map(|s| s.to_string()).collect(),
            complete_with: Vec::new(),
            start_s,
            end_s,
            step_s: 60,
            search_limit: DEFAULT_SEARCH_LIMIT,
            method: CountMethod::Search,
        }
    }
}

/// Traces asked for per search at first (`traces count --search-limit`).
pub const DEFAULT_SEARCH_LIMIT: usize = 1000;

/// Traces per step for each service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceCounts {
    pub start_s: u64,
    pub end_s: u64,
    pub step_s: u64,
    pub method: CountMethod,
    pub counted: &'static str,
    pub services: Vec<ServiceCounts>,
}

/// The label of the counts when no service is named.
pub const ALL_TRACES: &str = "all";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCounts {
    /// The root service, or [`ALL_TRACES`].
    pub service: String,
    /// One count per step, the first starting at `start_s`.
    pub per_step: Vec<u64>,
    pub total: u64,
    /// Of `total`, traces with a span of every service in `complete_with`, and the others;
    /// `None` when not judged or the store does not list a trace's services.
    pub complete: Option<u64>,
    pub incomplete: Option<u64>,
    /// Requests it took (search splits show here).
    pub queries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error(transparent)]
    Tempo(#[from] TempoError),
    #[error(
        "more than {limit} traces of {service} in the second starting at {at_s}: the search \
         limit cannot grow further"
    )]
    TooDense {
        service: String,
        at_s: u64,
        limit: usize,
    },
    #[error("invalid window: start {start_s} must be before end {end_s} and the step positive")]
    BadWindow { start_s: u64, end_s: u64 },
    #[error("TraceQL metrics cannot count this window exactly: {0}")]
    Metrics(String),
    #[error(
        "Tempo answered a search for [{start_s}, {end_s}] with trace {trace_id}, which starts at \
         {trace_start_ns} ns and lasts {duration_ms} ms: it did not search the window asked for, \
         so no count from it is trusted"
    )]
    Misplaced {
        start_s: u64,
        end_s: u64,
        trace_id: String,
        trace_start_ns: u64,
        duration_ms: u64,
    },
}

/// The largest search limit asked for before giving up on a one-second slice.
const MAX_LIMIT: usize = 1_000_000;

const COUNTED: &str =
    "traces whose root span belongs to the service, in the step holding the trace's start";

/// Counts on whatever server `client` reaches, reading what it is first.
pub async fn count_traces(
    client: &TempoClient,
    request: &CountRequest,
) -> Result<TraceCounts, CountError> {
    let server = Server::read(client).await?;
    count_on(client, &server, request).await
}

/// Counts on a server already read (a run reads it once, not per cell).
pub async fn count_on(
    client: &TempoClient,
    server: &Server,
    request: &CountRequest,
) -> Result<TraceCounts, CountError> {
    if request.start_s >= request.end_s || request.step_s == 0 {
        return Err(CountError::BadWindow {
            start_s: request.start_s,
            end_s: request.end_s,
        });
    }
    let wait = server.ready_in(request.end_s);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let roots: Vec<Option<&str>> = if request.services.is_empty() {
        vec![None]
    } else {
        request.services.iter().map(|s| Some(s.as_str())).collect()
    };
    let mut services = Vec::new();
    for root in roots {
        services.push(match request.method {
            CountMethod::Search => by_search(client, request, root).await?,
            CountMethod::Metrics => metrics::count(client, server, request, root).await?,
        });
    }
    Ok(TraceCounts {
        start_s: request.start_s,
        end_s: request.end_s,
        step_s: request.step_s,
        method: request.method,
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

/// Completeness tallies: `None` once a trace came without its services listed.
#[derive(Default)]
struct Completeness {
    complete: u64,
    incomplete: u64,
    unknown: bool,
}

impl Completeness {
    fn add(&mut self, trace: &TraceSearchMetadata, services: &[String]) {
        match &trace.service_stats {
            Some(stats) => {
                let has = |s: &String| stats.get(s).is_some_and(|st| st.span_count > 0);
                if services.iter().all(has) {
                    self.complete += 1;
                } else {
                    self.incomplete += 1;
                }
            }
            None => self.unknown = true,
        }
    }

    fn result(&self, judged: bool) -> (Option<u64>, Option<u64>) {
        if judged && !self.unknown {
            (Some(self.complete), Some(self.incomplete))
        } else {
            (None, None)
        }
    }
}

async fn by_search(
    client: &TempoClient,
    request: &CountRequest,
    root: Option<&str>,
) -> Result<ServiceCounts, CountError> {
    let q = match root {
        Some(service) => format!("{{ resource.service.name = {} }}", quoted(service)),
        None => "{}".to_string(),
    };
    let label = root.unwrap_or(ALL_TRACES);
    let mut per_step = vec![0; steps(request)];
    let mut completeness = Completeness::default();
    let mut queries = 0;
    let mut limit = request.search_limit.max(1);
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
            limit,
            spss: 1,
        };
        let answer = client.search(&search).await?;
        queries += 1;
        if answer.traces.len() >= limit {
            if b - a > 1 {
                let mid = a + (b - a) / 2;
                slices.push((mid, b));
                slices.push((a, mid));
            } else if limit < MAX_LIMIT {
                limit = (limit * 4).min(MAX_LIMIT);
                slices.push((a, b));
            } else {
                return Err(CountError::TooDense {
                    service: label.to_string(),
                    at_s: a,
                    limit,
                });
            }
            continue;
        }
        tally(
            answer.traces,
            (a, b),
            root,
            request,
            &mut per_step,
            &mut completeness,
        )?;
    }
    let (complete, incomplete) = completeness.result(!request.complete_with.is_empty());
    Ok(ServiceCounts {
        service: label.to_string(),
        total: per_step.iter().sum(),
        per_step,
        complete,
        incomplete,
        queries,
    })
}

/// Counts one slice's answer `[a, b)`: each trace rooted at `root` (any root when `None`) whose
/// start lies in the slice, once, in the step holding its start. A trace outside the slice is
/// an error: the store answered something else than was asked.
fn tally(
    traces: Vec<TraceSearchMetadata>,
    (a, b): (u64, u64),
    root: Option<&str>,
    request: &CountRequest,
    per_step: &mut [u64],
    completeness: &mut Completeness,
) -> Result<(), CountError> {
    // Search returns every trace overlapping the slice (both ends inclusive); each counts
    // in the slice holding its start.
    let (a_ns, b_ns) = (a * 1_000_000_000, b * 1_000_000_000);
    // Slices are disjoint and a trace counts only in the one holding its start, so an id
    // can repeat only within one answer: remembering one answer's ids is enough, and a long
    // window's count does not hold every id it counted (600,000 at 1,000 req/s in 10 min).
    let mut seen = HashSet::new();
    for trace in traces {
        let start_ns = trace.start_time_unix_nano;
        // `durationMs` is truncated: allow its last millisecond.
        let end_ns = start_ns + (trace.duration_ms + 1) * 1_000_000;
        if start_ns > b_ns || end_ns < a_ns {
            return Err(CountError::Misplaced {
                start_s: a,
                end_s: b,
                trace_id: trace.trace_id,
                trace_start_ns: start_ns,
                duration_ms: trace.duration_ms,
            });
        }
        let rooted = root.is_none_or(|s| trace.root_service_name == s);
        if rooted && (a_ns..b_ns).contains(&start_ns) && seen.insert(pad_trace_id(&trace.trace_id))
        {
            let step = ((start_ns / 1_000_000_000 - request.start_s) / request.step_s) as usize;
            per_step[step] += 1;
            completeness.add(&trace, &request.complete_with);
        }
    }
    Ok(())
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
            complete_with: vec![],
            start_s: 0,
            end_s: 150,
            step_s: 60,
            search_limit: 10,
            method: CountMethod::Search,
        };
        assert_eq!(steps(&request), 3);
    }
}
