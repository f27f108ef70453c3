//! Where a slow request's time went, from its trace. The request's latency (from its due time)
//! is split into parts that add up to it exactly:
//!
//! - `driver_ms`: due to sent, the driver's own lag;
//! - `outside_ms`: sent to answered, minus the root span: the network, and whatever the service
//!   did before its root span began or after it ended;
//! - each service's self time: the time of its spans not covered by a child span.
//!
//! Each instant of the root span goes to exactly one span: a child is clipped to its parent (an
//! asynchronous child that outlives its parent counts only while the parent runs), and of
//! children that overlap, the one that started first keeps the overlap. So the self times of the
//! root's tree add up to the root span. Spans outside the root's tree are left out.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::model::{TraceResponse, decode_id};
use crate::load::SlowRequest;

/// One slow request's latency, split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Due to sent.
    pub driver_ms: f64,
    /// Sent to answered outside the root span (network, work outside any span).
    pub outside_ms: f64,
    /// Per service, in the order the trace reaches them from its root.
    pub services: Vec<ServiceTime>,
    /// Spans in the root's tree.
    pub spans: usize,
}

/// One service's share of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTime {
    pub service: String,
    /// Time inside the service's outermost spans (those whose parent is another service's).
    pub span_ms: f64,
    /// Time inside its spans not covered by a child span.
    pub self_ms: f64,
}

impl Breakdown {
    /// The parts' sum: the request's latency.
    pub fn total_ms(&self) -> f64 {
        self.driver_ms + self.outside_ms + self.services.iter().map(|s| s.self_ms).sum::<f64>()
    }
}

struct Node {
    service: usize,
    parent: Option<Vec<u8>>,
    start: u64,
    end: u64,
    children: Vec<usize>,
}

/// Splits `request`'s latency over `trace`; `None` when the trace has no root span.
pub fn breakdown(trace: &TraceResponse, request: &SlowRequest) -> Option<Breakdown> {
    let mut services: Vec<String> = Vec::new();
    let mut nodes = Vec::new();
    let mut by_id = HashMap::new();
    for batch in &trace.batches {
        let name = batch
            .resource
            .service_name()
            .unwrap_or("unknown")
            .to_owned();
        let service = services.iter().position(|s| *s == name).unwrap_or_else(|| {
            services.push(name);
            services.len() - 1
        });
        for span in batch.scope_spans.iter().flat_map(|s| &s.spans) {
            let parent = decode_id(&span.parent_span_id).filter(|p| !p.is_empty());
            if let Some(id) = decode_id(&span.span_id) {
                by_id.insert(id, nodes.len());
            }
            nodes.push(Node {
                service,
                parent,
                start: span.start_time_unix_nano,
                end: span.end_time_unix_nano.max(span.start_time_unix_nano),
                children: Vec::new(),
            });
        }
    }
    // The root: a span without a parent in the trace; the longest if several.
    let mut root = None;
    for i in 0..nodes.len() {
        match nodes[i].parent.as_ref().and_then(|p| by_id.get(p)) {
            Some(&parent) if parent != i => nodes[parent].children.push(i),
            _ => {
                let longer =
                    |r: usize| nodes[i].end - nodes[i].start > nodes[r].end - nodes[r].start;
                if root.is_none_or(longer) {
                    root = Some(i);
                }
            }
        }
    }
    let root = root?;
    let mut out = Breakdown {
        driver_ms: request.latency_ms - request.service_time_ms,
        outside_ms: request.service_time_ms - ms(nodes[root].end - nodes[root].start),
        services: Vec::new(),
        spans: 0,
    };
    // Depth first from the root, each span clipped to its (clipped) parent.
    let mut stack = vec![(root, nodes[root].start, nodes[root].end, None)];
    while let Some((i, start, end, parent_service)) = stack.pop() {
        out.spans += 1;
        let node = &nodes[i];
        let mut children = node.children.clone();
        children.sort_unstable_by_key(|&c| (nodes[c].start, c));
        let (mut covered, mut reach) = (0, start);
        for c in children {
            let cs = nodes[c].start.clamp(reach, end);
            let ce = nodes[c].end.clamp(cs, end);
            covered += ce - cs;
            reach = reach.max(ce);
            stack.push((c, cs, ce, Some(node.service)));
        }
        let name = &services[node.service];
        let share = match out.services.iter().position(|s| s.service == *name) {
            Some(at) => &mut out.services[at],
            None => {
                out.services.push(ServiceTime {
                    service: name.clone(),
                    span_ms: 0.0,
                    self_ms: 0.0,
                });
                out.services.last_mut().expect("just pushed")
            }
        };
        share.self_ms += ms(end - start - covered);
        if parent_service != Some(node.service) {
            share.span_ms += ms(end - start);
        }
    }
    Some(out)
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::model::{AnyValue, Batch, KeyValue, Resource, ScopeSpans, Span, hex_encode};

    /// A span of `service` from `start_us` to `end_us` (after an origin), ids as small numbers.
    fn span(id: u8, parent: Option<u8>, start_us: u64, end_us: u64) -> Span {
        let origin = 1_700_000_000_000_000_000u64;
        let id16 = |n: u8| hex_encode(&[0, 0, 0, 0, 0, 0, 0, n]);
        Span {
            trace_id: hex_encode(&[7; 16]),
            span_id: id16(id),
            parent_span_id: parent.map(id16).unwrap_or_default(),
            start_time_unix_nano: origin + start_us * 1000,
            end_time_unix_nano: origin + end_us * 1000,
            ..Span::default()
        }
    }

    fn trace(services: Vec<(&str, Vec<Span>)>) -> TraceResponse {
        TraceResponse {
            batches: services
                .into_iter()
                .map(|(name, spans)| Batch {
                    resource: Resource {
                        attributes: vec![KeyValue {
                            key: "service.name".into(),
                            value: AnyValue::string(name),
                        }],
                    },
                    scope_spans: vec![ScopeSpans { scope: None, spans }],
                })
                .collect(),
        }
    }

    fn request(latency_ms: f64, service_time_ms: f64) -> SlowRequest {
        SlowRequest {
            due_ms: 0.0,
            latency_ms,
            service_time_ms,
            outcome: "200".into(),
            trace_id: None,
        }
    }

    #[test]
    fn parts_add_up_to_the_latency_with_known_span_times() {
        // gateway server 0..1000 µs; its client span 100..900; auth's server span 200..700
        // with two overlapping children 300..400 and 350..500, and one that outlives it
        // (600..800, clipped to 600..700). Auth's spans come first in the document.
        let t = trace(vec![
            (
                "auth",
                vec![
                    span(5, Some(3), 350, 500),
                    span(3, Some(2), 200, 700),
                    span(4, Some(3), 300, 400),
                    span(6, Some(3), 600, 800),
                ],
            ),
            (
                "gateway",
                vec![span(1, None, 0, 1000), span(2, Some(1), 100, 900)],
            ),
        ]);
        // Due to sent 0.25 ms, sent to answered 1.15 ms: 0.15 ms outside the root span.
        let b = breakdown(&t, &request(1.4, 1.15)).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(b.driver_ms, 0.25) && close(b.outside_ms, 0.15),
            "{b:?}"
        );
        assert_eq!(b.spans, 6);
        let gw = &b.services[0];
        let auth = &b.services[1];
        assert_eq!(
            (gw.service.as_str(), auth.service.as_str()),
            ("gateway", "auth")
        );
        // Gateway: root self 100 + 100 µs, client span self 100 + 200 µs.
        assert!(close(gw.self_ms, 0.5) && close(gw.span_ms, 1.0), "{gw:?}");
        // Auth: server self 500 - 300..500 - 600..700 = 200 µs; its children 300..400, then
        // 400..500 (the overlap went to the first) and 600..700: 300 µs. Its outermost span
        // 0.5 ms.
        assert!(
            close(auth.self_ms, 0.5) && close(auth.span_ms, 0.5),
            "{auth:?}"
        );
        assert!(close(b.total_ms(), 1.4), "{}", b.total_ms());
    }

    #[test]
    fn a_trace_without_root_gives_nothing_and_detached_spans_are_left_out() {
        assert_eq!(breakdown(&trace(vec![]), &request(1.0, 1.0)), None);
        // A span whose parent is not in the trace roots a tree only if it is the longest.
        let t = trace(vec![(
            "gateway",
            vec![span(1, None, 0, 1000), span(9, Some(8), 0, 50)],
        )]);
        let b = breakdown(&t, &request(2.0, 1.5)).unwrap();
        assert_eq!(b.spans, 1);
        assert!((b.total_ms() - 2.0).abs() < 1e-9);
    }
}
