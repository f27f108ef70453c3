//! Connectivity probes: a few requests carrying a known, sampled `traceparent` each, then (bounded)
//! polling the trace store until each comes back whole.
//!
//! Load traffic carries no traceparent (a parent-based sampler would obey it), so this is where
//! linkage is checked: every expected service has spans in the probe's trace, every span's parent
//! is in the trace (except the root, whose parent is the probe's own made-up span), and the root
//! is the first service's (the gateway). The delay from the response to the first complete answer
//! is the ingestion delay, measured at the poll interval's resolution.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::model::{TraceResponse, decode_id, hex_encode};
use super::tempo::TempoClient;

#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// Base URL of the gateway, e.g. `http://127.0.0.1:8080`.
    pub gateway: String,
    /// Path the probes POST to.
    pub path: String,
    /// Expected services; the first must own the root span.
    pub services: Vec<String>,
    pub probes: usize,
    /// How long to wait for all probes to become queryable, from the last response.
    pub timeout: Duration,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    Found,
    Missing,
    Broken,
    RequestFailed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub trace_id: String,
    pub outcome: ProbeOutcome,
    /// Why a trace is broken or a request failed; empty when found.
    pub detail: String,
    pub delay_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub probes: usize,
    pub found: usize,
    pub missing: usize,
    pub broken: usize,
    pub failed_requests: usize,
    pub delay_p50_ms: Option<f64>,
    pub delay_max_ms: Option<f64>,
    pub results: Vec<ProbeResult>,
}

impl VerifyReport {
    /// True when every probe came back whole.
    pub fn passed(&self) -> bool {
        self.found == self.probes
    }
}

struct Probe {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    answered_at: Instant,
    result: Option<ProbeResult>,
    last_problem: Option<String>,
}

pub async fn verify(tempo: &TempoClient, request: &VerifyRequest) -> anyhow::Result<VerifyReport> {
    anyhow::ensure!(!request.services.is_empty(), "no expected services given");
    let http: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let url = format!("{}{}", request.gateway.trim_end_matches('/'), request.path);
    let mut probes = Vec::with_capacity(request.probes);
    for seq in 0..request.probes {
        probes.push(send_probe(&http, &url, seq).await?);
    }
    let deadline = Instant::now() + request.timeout;
    loop {
        for probe in probes.iter_mut().filter(|p| p.result.is_none()) {
            let Some(trace) = tempo.trace(&probe.trace_id).await? else {
                continue;
            };
            match check_trace(&trace, &request.services, &probe.parent_id) {
                Ok(()) => {
                    probe.result = Some(ProbeResult {
                        trace_id: hex_encode(&probe.trace_id),
                        outcome: ProbeOutcome::Found,
                        detail: String::new(),
                        delay_ms: Some(probe.answered_at.elapsed().as_secs_f64() * 1e3),
                    })
                }
                Err(problem) => probe.last_problem = Some(problem),
            }
        }
        if probes.iter().all(|p| p.result.is_some()) || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(request.poll_interval).await;
    }
    let results: Vec<ProbeResult> = probes
        .into_iter()
        .map(|p| {
            p.result.unwrap_or_else(|| ProbeResult {
                trace_id: hex_encode(&p.trace_id),
                outcome: if p.last_problem.is_some() {
                    ProbeOutcome::Broken
                } else {
                    ProbeOutcome::Missing
                },
                detail: p.last_problem.unwrap_or_default(),
                delay_ms: None,
            })
        })
        .collect();
    Ok(summarise(results))
}

/// POSTs one register request with a fresh sampled traceparent; a failed request is recorded,
/// an unreachable gateway ends the verification.
async fn send_probe(
    http: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    seq: usize,
) -> anyhow::Result<Probe> {
    let mut trace_id: [u8; 16] = rand::random();
    trace_id[0] |= 0x10; // never all zeros
    let mut parent_id: [u8; 8] = rand::random();
    parent_id[0] |= 0x10;
    let tag = hex_encode(&trace_id[..6]);
    let body = serde_json::json!({
        "username": format!("tbprobe-{tag}-{seq}"),
        "email": format!("tbprobe-{tag}-{seq}@example.com"),
        "password": format!("probe-password-{tag}"),
    });
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            "traceparent",
            format!("00-{}-{}-01", hex_encode(&trace_id), hex_encode(&parent_id)),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .with_context(|| format!("invalid gateway URL {url:?}"))?;
    let response = tokio::time::timeout(Duration::from_secs(10), http.request(request))
        .await
        .with_context(|| format!("the gateway at {url} did not answer within 10 s"))?
        .with_context(|| format!("the gateway at {url} is unreachable"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map(|b| b.to_bytes());
    let failed = (!status.is_success()).then(|| ProbeResult {
        trace_id: hex_encode(&trace_id),
        outcome: ProbeOutcome::RequestFailed,
        detail: format!(
            "HTTP {status}: {}",
            body.map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default()
        ),
        delay_ms: None,
    });
    Ok(Probe {
        trace_id,
        parent_id,
        answered_at: Instant::now(),
        result: failed,
        last_problem: None,
    })
}

/// Ok when the trace is whole; else what is wrong with it.
pub fn check_trace(
    trace: &TraceResponse,
    services: &[String],
    probe_parent: &[u8; 8],
) -> Result<(), String> {
    struct S<'a> {
        id: Vec<u8>,
        parent: Vec<u8>,
        service: &'a str,
        name: &'a str,
    }
    let mut spans = Vec::new();
    for batch in &trace.batches {
        let service = batch.resource.service_name().unwrap_or("<no service.name>");
        for span in batch.scope_spans.iter().flat_map(|s| &s.spans) {
            let bad = || format!("span {:?} has an undecodable id", span.name);
            spans.push(S {
                id: decode_id(&span.span_id).ok_or_else(bad)?,
                parent: decode_id(&span.parent_span_id).ok_or_else(bad)?,
                service,
                name: &span.name,
            });
        }
    }
    if let Some(service) = trace.missing_service(services) {
        return Err(format!("no span from {service}"));
    }
    let is_root = |s: &S| s.parent.is_empty() || s.parent == probe_parent;
    let roots: Vec<&S> = spans.iter().filter(|s| is_root(s)).collect();
    match roots.as_slice() {
        [root] if root.service == services[0] => {}
        [root] => {
            return Err(format!(
                "root span {:?} is from {}, expected {}",
                root.name, root.service, services[0]
            ));
        }
        _ => return Err(format!("{} root spans, expected 1", roots.len())),
    }
    let ids: HashSet<&[u8]> = spans.iter().map(|s| s.id.as_slice()).collect();
    if let Some(orphan) = spans
        .iter()
        .find(|s| !is_root(s) && !ids.contains(s.parent.as_slice()))
    {
        return Err(format!(
            "span {:?} of {} has parent {} which is not in the trace",
            orphan.name,
            orphan.service,
            hex_encode(&orphan.parent)
        ));
    }
    Ok(())
}

fn summarise(results: Vec<ProbeResult>) -> VerifyReport {
    let count = |o: ProbeOutcome| results.iter().filter(|r| r.outcome == o).count();
    let mut delays: Vec<f64> = results.iter().filter_map(|r| r.delay_ms).collect();
    delays.sort_by(f64::total_cmp);
    VerifyReport {
        probes: results.len(),
        found: count(ProbeOutcome::Found),
        missing: count(ProbeOutcome::Missing),
        broken: count(ProbeOutcome::Broken),
        failed_requests: count(ProbeOutcome::RequestFailed),
        // Nearest rank.
        delay_p50_ms: delays.get(delays.len().saturating_sub(1) / 2).copied(),
        delay_max_ms: delays.last().copied(),
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::model::{Batch, KeyValue, Resource, ScopeSpans, Span, base64_id};

    fn batch(service: &str, spans: &[(u8, u8)]) -> Batch {
        Batch {
            resource: Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: crate::traces::model::AnyValue::string(service),
                }],
            },
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: spans
                    .iter()
                    .map(|&(id, parent)| Span {
                        span_id: base64_id(&[id; 8]),
                        parent_span_id: base64_id(&[parent; 8]),
                        name: format!("s{id}"),
                        ..Span::default()
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn whole_linked_and_broken_traces() {
        let services = ["gw".to_string(), "auth".to_string()];
        let probe = [9; 8];
        let trace = |batches| TraceResponse { batches };
        let whole = trace(vec![
            batch("gw", &[(1, 9), (2, 1)]),
            batch("auth", &[(3, 2)]),
        ]);
        assert_eq!(check_trace(&whole, &services, &probe), Ok(()));
        let no_auth = trace(vec![batch("gw", &[(1, 9)])]);
        assert_eq!(
            check_trace(&no_auth, &services, &probe).unwrap_err(),
            "no span from auth"
        );
        let orphan = trace(vec![batch("gw", &[(1, 9)]), batch("auth", &[(3, 7)])]);
        assert!(
            check_trace(&orphan, &services, &probe)
                .unwrap_err()
                .contains("not in the trace")
        );
        let wrong_root = trace(vec![batch("gw", &[(1, 3)]), batch("auth", &[(3, 9)])]);
        assert!(
            check_trace(&wrong_root, &services, &probe)
                .unwrap_err()
                .contains("is from auth")
        );
    }

    #[test]
    fn summary_counts_and_delays() {
        let r = |outcome, delay_ms| ProbeResult {
            trace_id: String::new(),
            outcome,
            detail: String::new(),
            delay_ms,
        };
        let report = summarise(vec![
            r(ProbeOutcome::Found, Some(30.0)),
            r(ProbeOutcome::Found, Some(10.0)),
            r(ProbeOutcome::Found, Some(20.0)),
            r(ProbeOutcome::Missing, None),
        ]);
        assert_eq!(
            (report.found, report.missing, report.passed()),
            (3, 1, false)
        );
        assert_eq!(
            (report.delay_p50_ms, report.delay_max_ms),
            (Some(20.0), Some(30.0))
        );
    }
}
