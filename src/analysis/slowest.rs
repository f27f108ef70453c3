//! The slowest requests of each mode at each rate, over its cells, with their traces and where
//! their time went: the answer to "of the added p99, where did it go?". Joins what the driver
//! kept per cell ([`crate::load::SlowRequest`]) with what the store returned for each trace
//! ([`crate::results::SlowTrace`]).

use crate::results::{Breakdown, RunResults};
use crate::traces::breakdown::ServiceTime;

use super::Group;
use super::model::{SlowRow, SlowestGroup};

/// One entry per group that kept any slow request.
pub(super) fn slowest(results: &RunResults, groups: &[Group]) -> Vec<SlowestGroup> {
    let traces = results.traces.as_ref();
    let link = traces.and_then(|t| t.link.as_ref());
    groups
        .iter()
        .filter_map(|g| {
            let keep = g.cells.iter().map(|c| c.load.slowest.len()).max()?;
            let mut rows: Vec<SlowRow> = g
                .cells
                .iter()
                .flat_map(|c| c.load.slowest.iter().map(move |r| (c, r)))
                .map(|(c, r)| {
                    let found = r.trace_id.and_then(|id| {
                        traces?.slow_traces.iter().find(|t| {
                            t.trace_id == id && c.is(&t.mode, t.rate, t.round, t.replicate)
                        })
                    });
                    SlowRow {
                        round: c.round,
                        replicate: c.replicate,
                        request: r.clone(),
                        link: r.trace_id.zip(link).map(|(id, link)| {
                            link.render(id, c.window_start_unix_ms + r.due_ms as i64)
                        }),
                        found: found.map(|t| t.found),
                        complete: found.and_then(|t| t.complete),
                        breakdown: found.and_then(|t| t.breakdown.clone()),
                    }
                })
                .collect();
            rows.sort_by(|a, b| b.request.latency_ms.total_cmp(&a.request.latency_ms));
            rows.truncate(keep);
            (!rows.is_empty()).then(|| SlowestGroup {
                mode: g.mode.to_owned(),
                rate: g.rate,
                with_trace: rows.iter().filter(|r| r.request.trace_id.is_some()).count(),
                found: rows.iter().filter(|r| r.found == Some(true)).count(),
                mean: mean(rows.iter().filter_map(|r| r.breakdown.as_ref())),
                requests: rows,
            })
        })
        .collect()
}

/// The part-by-part mean of `breakdowns`: a service missing from one counts 0 there, so the mean
/// parts still add up to the mean latency.
fn mean<'a>(breakdowns: impl Iterator<Item = &'a Breakdown>) -> Option<Breakdown> {
    let all: Vec<&Breakdown> = breakdowns.collect();
    if all.is_empty() {
        return None;
    }
    let n = all.len() as f64;
    let mut services: Vec<ServiceTime> = Vec::new();
    for s in all.iter().flat_map(|b| &b.services) {
        let at = match services.iter().position(|m| m.service == s.service) {
            Some(at) => at,
            None => {
                services.push(ServiceTime {
                    service: s.service.clone(),
                    span_ms: 0.0,
                    self_ms: 0.0,
                });
                services.len() - 1
            }
        };
        services[at].span_ms += s.span_ms / n;
        services[at].self_ms += s.self_ms / n;
    }
    Some(Breakdown {
        driver_ms: all.iter().map(|b| b.driver_ms).sum::<f64>() / n,
        outside_ms: all.iter().map(|b| b.outside_ms).sum::<f64>() / n,
        services,
        spans: all.iter().map(|b| b.spans).sum::<usize>() / all.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(service: &str, self_ms: f64) -> ServiceTime {
        ServiceTime {
            service: service.into(),
            span_ms: self_ms,
            self_ms,
        }
    }

    #[test]
    fn the_mean_of_breakdowns_adds_up_to_the_mean_latency() {
        let a = Breakdown {
            driver_ms: 0.2,
            outside_ms: 0.1,
            services: vec![part("gw", 1.0), part("auth", 0.5)],
            spans: 3,
        };
        let b = Breakdown {
            driver_ms: 0.4,
            outside_ms: 0.3,
            services: vec![part("gw", 2.0)],
            spans: 1,
        };
        let m = mean([&a, &b].into_iter()).unwrap();
        assert!((m.total_ms() - (a.total_ms() + b.total_ms()) / 2.0).abs() < 1e-12);
        assert_eq!(m.services[1].service, "auth");
        assert!((m.services[1].self_ms - 0.25).abs() < 1e-12);
        assert_eq!(mean(std::iter::empty()), None);
    }
}
