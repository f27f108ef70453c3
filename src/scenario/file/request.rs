//! `[request]`: what the driver sends, HTTP or gRPC, checked down to the body template and statuses.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Checked, check_url, duration, issue, loopback_addr, positive};
use crate::load::{Arrivals, BodyTemplate, DEFAULT_TRACE_HEADER};
use crate::load::{Endpoint, GrpcEndpoint, HttpEndpoint};
use crate::scenario::Request;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestFile {
    #[serde(default)]
    kind: RequestProtocol,
    url: Option<String>,
    method: Option<String>,
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    expect: Option<Vec<i64>>,
    addr: Option<String>,
    #[serde(default = "connections")]
    connections: u32,
    #[serde(default = "max_in_flight")]
    max_in_flight: u32,
    #[serde(default = "uniform")]
    arrivals: Arrivals,
    #[serde(default = "timeout", deserialize_with = "duration")]
    timeout: Duration,
    trace_header: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum RequestProtocol {
    #[default]
    Http,
    Grpc,
}

fn connections() -> u32 {
    crate::load::DEFAULT_CONNECTIONS
}
fn max_in_flight() -> u32 {
    crate::load::DEFAULT_MAX_IN_FLIGHT
}
fn timeout() -> Duration {
    crate::load::DEFAULT_TIMEOUT
}
fn uniform() -> Arrivals {
    Arrivals::Uniform
}

impl RequestFile {
    pub(super) fn validate(self) -> Checked<Request> {
        let trace_header = match &self.trace_header {
            Some(name) => http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                issue(
                    "request.trace_header",
                    format!("expected a header name such as \"traceresponse\", got {name:?}"),
                )
            })?,
            None => http::HeaderName::from_static(DEFAULT_TRACE_HEADER),
        };
        let endpoint = match self.kind {
            RequestProtocol::Http => Endpoint::Http(self.http()?.with_trace_header(trace_header)),
            RequestProtocol::Grpc => Endpoint::Grpc(self.grpc()?.with_trace_header(&trace_header)),
        };
        if self.connections == 0 {
            return Err(issue(
                "request.connections",
                "expected at least 1 connection",
            ));
        }
        if self.max_in_flight == 0 {
            return Err(issue(
                "request.max_in_flight",
                "expected at least 1 request in flight",
            ));
        }
        Ok(Request {
            endpoint,
            connections: self.connections,
            max_in_flight: self.max_in_flight,
            arrivals: self.arrivals,
            timeout: positive("request.timeout", self.timeout)?,
        })
    }

    fn http(&self) -> Checked<HttpEndpoint> {
        if self.addr.is_some() {
            return Err(issue(
                "request.addr",
                "is for kind = \"grpc\"; an HTTP request is given by `url`",
            ));
        }
        let Some(url) = &self.url else {
            return Err(issue("request.url", "expected the URL to send requests to"));
        };
        let url = check_url("request.url", url, true)?;
        let method = self
            .method
            .as_deref()
            .map(|m| {
                http::Method::from_bytes(m.as_bytes())
                    .ok()
                    .filter(|_| m.chars().all(|c| c.is_ascii_uppercase()))
                    .ok_or_else(|| {
                        issue(
                            "request.method",
                            format!(
                                "expected an HTTP method such as \"GET\" or \"POST\", got {m:?}"
                            ),
                        )
                    })
            })
            .transpose()?;
        Ok(HttpEndpoint::new(
            url,
            method,
            headers(&self.headers)?,
            self.body.as_deref().map(template).transpose()?,
            self.expect.as_deref().map(statuses).transpose()?,
        ))
    }

    fn grpc(&self) -> Checked<GrpcEndpoint> {
        let misplaced = [
            ("url", self.url.is_some()),
            ("method", self.method.is_some()),
            ("headers", !self.headers.is_empty()),
            ("expect", self.expect.is_some()),
        ];
        if let Some((field, _)) = misplaced.iter().find(|(_, set)| *set) {
            return Err(issue(
                format!("request.{field}"),
                "is for kind = \"http\"; a gRPC request is given by `addr` and `body`",
            ));
        }
        let Some(addr) = &self.addr else {
            return Err(issue(
                "request.addr",
                "expected the gRPC address, such as \"127.0.0.1:50051\"",
            ));
        };
        let addr = loopback_addr("request.addr", addr)?;
        let body = self.body.as_deref().map(template).transpose()?;
        if let Some(body) = &body {
            check_register_body(body)?;
        }
        Ok(GrpcEndpoint::new(grpc_uri(addr), body, None))
    }
}

fn template(body: &str) -> Checked<BodyTemplate> {
    BodyTemplate::parse(body).map_err(|m| issue("request.body", m))
}

/// `request.headers`: valid names, values of visible ASCII.
fn headers(headers: &BTreeMap<String, String>) -> Checked<http::HeaderMap> {
    let mut out = http::HeaderMap::new();
    for (name, value) in headers {
        let key = format!("request.headers.{name}");
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            return Err(issue(key, "expected a valid HTTP header name"));
        };
        let Ok(value) = http::HeaderValue::from_str(value) else {
            return Err(issue(key, "expected a header value of visible ASCII"));
        };
        out.insert(name, value);
    }
    Ok(out)
}

/// `http://ADDR`, what the gRPC client connects to.
fn grpc_uri(addr: std::net::SocketAddr) -> http::Uri {
    let uri = format!("http://{addr}");
    uri.parse()
        .unwrap_or_else(|_| unreachable!("a socket address makes a valid authority: {uri}"))
}

/// `request.expect`: HTTP statuses, 200 and 201 when not given.
fn statuses(expect: &[i64]) -> Checked<Vec<http::StatusCode>> {
    if expect.is_empty() {
        return Err(issue("request.expect", "expected at least one HTTP status"));
    }
    expect
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            u16::try_from(s)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .and_then(|s| http::StatusCode::from_u16(s).ok())
                .ok_or_else(|| {
                    issue(
                        format!("request.expect[{i}]"),
                        format!("expected an HTTP status between 100 and 599, got {s}"),
                    )
                })
        })
        .collect()
}

/// The gRPC body must render to the `RegisterRequest` fields as a JSON object of strings.
fn check_register_body(body: &BodyTemplate) -> Checked<()> {
    let expected = "expected a JSON object with string fields username, email and password";
    let rendered = body.render(0, "run");
    let value: serde_json::Value = serde_json::from_slice(&rendered)
        .map_err(|e| issue("request.body", format!("{expected}: {e}")))?;
    let ok = value.as_object().is_some_and(|o| {
        o.iter()
            .all(|(k, v)| ["username", "email", "password"].contains(&k.as_str()) && v.is_string())
    });
    if ok {
        Ok(())
    } else {
        Err(issue("request.body", expected))
    }
}
