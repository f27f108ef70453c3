//! Links from a report to a trace: a template with `{trace_id}` (32 hex digits), `{start_ms}` and
//! `{end_ms}` (Unix ms, a time range around the request, for UIs that search by time). Other
//! braces are kept, so a Grafana URL's JSON can be written as it is.

use serde::{Deserialize, Serialize};

use crate::load::TraceId;

/// Grafana Explore on the compose stack's Grafana (127.0.0.1:3000), with its provisioned Tempo
/// datasource (uid `tempo`), opening the trace: the `panes` parameter of Grafana 10 and later.
pub const GRAFANA_EXPLORE: &str = "http://127.0.0.1:3000/explore?schemaVersion=1&orgId=1&panes=\
    %7B%22tb%22:%7B%22datasource%22:%22tempo%22,%22queries%22:%5B%7B%22refId%22:%22A%22,\
    %22datasource%22:%7B%22type%22:%22tempo%22,%22uid%22:%22tempo%22%7D,\
    %22queryType%22:%22traceql%22,%22query%22:%22{trace_id}%22%7D%5D,\
    %22range%22:%7B%22from%22:%22{start_ms}%22,%22to%22:%22{end_ms}%22%7D%7D%7D";

/// How far before and after a request the time range of a link reaches.
const MARGIN_MS: i64 = 5 * 60 * 1000;

/// A checked link template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TraceLink(String);

impl TraceLink {
    /// Checks that `template` names the trace; the error says what was expected.
    pub fn parse(template: &str) -> Result<TraceLink, String> {
        if !template.contains("{trace_id}") {
            return Err(format!(
                "expected a URL template containing {{trace_id}} (and optionally {{start_ms}} \
                 and {{end_ms}}), got {template:?}"
            ));
        }
        Ok(TraceLink(template.to_owned()))
    }

    /// The trace's own page on the Tempo query API at `api` (`http://host:port`).
    pub fn api(api: &str) -> TraceLink {
        TraceLink(format!(
            "{}/api/traces/{{trace_id}}",
            api.trim_end_matches('/')
        ))
    }

    /// The template itself.
    pub fn template(&self) -> &str {
        &self.0
    }

    /// The link to `trace` for a request at `at_unix_ms`.
    pub fn render(&self, trace: TraceId, at_unix_ms: i64) -> String {
        self.0
            .replace("{trace_id}", &trace.to_string())
            .replace("{start_ms}", &(at_unix_ms - MARGIN_MS).to_string())
            .replace("{end_ms}", &(at_unix_ms + MARGIN_MS).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_trace_and_time_range() {
        let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
        let grafana = TraceLink::parse(GRAFANA_EXPLORE).unwrap();
        let url = grafana.render(id, 1_700_000_000_000);
        assert!(url.starts_with("http://127.0.0.1:3000/explore?"), "{url}");
        assert!(url.contains("%22query%22:%224bf92f3577b34da6a3ce929d0e0e4736%22"));
        assert!(url.contains("%22from%22:%221699999700000%22"), "{url}");
        assert!(url.contains("%22to%22:%221700000300000%22"), "{url}");
        assert!(!url.contains('{') && !url.contains(' '), "{url}");
        assert_eq!(
            TraceLink::api("http://127.0.0.1:13200/").render(id, 0),
            "http://127.0.0.1:13200/api/traces/4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(TraceLink::parse("http://x/{id}").is_err());
    }
}
