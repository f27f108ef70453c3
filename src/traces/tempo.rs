//! A client for the part of Tempo's HTTP API tracebench uses: readiness, build info, search,
//! trace by id and TraceQL metrics. It works the same against a real Tempo and the built-in sink.
//!
//! Plain HTTP only (hyper-util's legacy client, no TLS yet). Tenant and credentials come from the
//! environment (`TEMPO_TENANT`, `TEMPO_TOKEN` or `TEMPO_USER`/`TEMPO_PASSWORD`) or from the URL's
//! `user:password@`, and are never printed: the URL is kept without them, `Debug` redacts them
//! and errors never include request headers. Each request has a
//! timeout; unreachable servers and 429/5xx answers are retried a few times with backoff.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use super::model::{BuildInfo, MetricsResponse, SearchResponse, TraceResponse, hex_encode};

/// What went wrong talking to Tempo, in the three ways a caller acts on differently.
#[derive(Debug, thiserror::Error)]
pub enum TempoError {
    #[error("Tempo at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Tempo refused {what}: HTTP {status}: {body}")]
    Refused {
        what: String,
        status: u16,
        body: String,
    },
    #[error("Tempo answered {what} with something unexpected: {reason}")]
    Unexpected { what: String, reason: String },
}

/// Tenant and credentials, read from the environment.
#[derive(Clone, Default)]
pub struct TempoAuth {
    tenant: Option<String>,
    authorization: Option<String>,
}

impl std::fmt::Debug for TempoAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempoAuth")
            .field("tenant", &self.tenant.as_ref().map(|_| "<set>"))
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl TempoAuth {
    /// `TEMPO_TENANT` becomes `X-Scope-OrgID`; `TEMPO_TOKEN` a bearer token, else
    /// `TEMPO_USER` and `TEMPO_PASSWORD` basic auth.
    pub fn from_env() -> TempoAuth {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let authorization = match (var("TEMPO_TOKEN"), var("TEMPO_USER")) {
            (Some(token), _) => Some(format!("Bearer {token}")),
            (None, Some(user)) => {
                let password = var("TEMPO_PASSWORD").unwrap_or_default();
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(format!("Basic {encoded}"))
            }
            (None, None) => None,
        };
        TempoAuth {
            tenant: var("TEMPO_TENANT"),
            authorization,
        }
    }
}

/// Search parameters, as Tempo's `/api/search` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// TraceQL, e.g. `{ resource.service.name = "api-gateway" }`.
    pub q: String,
    /// Unix seconds.
    pub start_s: u64,
    pub end_s: u64,
    pub limit: usize,
    /// Spans shown per span set (`spss`, Tempo's default 3); a count needs only the trace, so it
    /// asks for 1 and gets an answer about a third smaller.
    pub spss: usize,
}

#[derive(Debug, Clone)]
pub struct TempoClient {
    base: String,
    auth: TempoAuth,
    http: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
    retries: u32,
}

impl TempoClient {
    /// `base` like `http://127.0.0.1:3200`; credentials from [`TempoAuth::from_env`].
    /// `user:password@` in `base` becomes basic auth unless the environment sets credentials.
    pub fn new(base: &str) -> Result<TempoClient, TempoError> {
        let (base, userinfo) = split_userinfo(base.trim_end_matches('/'));
        let uri: Uri = base.parse().map_err(|e| TempoError::Unreachable {
            url: base.clone(),
            reason: format!("not a valid URL: {e}"),
        })?;
        if uri.scheme_str() != Some("http") {
            return Err(TempoError::Unreachable {
                url: base,
                reason: "only http:// URLs are supported (no TLS yet)".into(),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let mut auth = TempoAuth::from_env();
        if let (None, Some(userinfo)) = (&auth.authorization, userinfo) {
            let encoded = base64::engine::general_purpose::STANDARD.encode(userinfo);
            auth.authorization = Some(format!("Basic {encoded}"));
        }
        Ok(TempoClient {
            base,
            auth,
            http: Client::builder(TokioExecutor::new()).build(connector),
            timeout: Duration::from_secs(30),
            retries: 3,
        })
    }

    /// The base URL, without any `user:password@`: safe to print and to write.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Sends `X-Scope-OrgID: tenant` (overrides `TEMPO_TENANT`).
    pub fn with_tenant(mut self, tenant: String) -> TempoClient {
        self.auth.tenant = Some(tenant);
        self
    }

    /// Sends `Authorization: Bearer token` (overrides the environment's credentials).
    pub fn with_bearer_token(mut self, token: &str) -> TempoClient {
        self.auth.authorization = Some(format!("Bearer {token}"));
        self
    }

    pub fn with_retries(mut self, retries: u32) -> TempoClient {
        self.retries = retries;
        self
    }

    /// `GET /ready`: Ok once Tempo can serve queries.
    pub async fn ready(&self) -> Result<(), TempoError> {
        self.get("/ready", "the readiness check").await.map(|_| ())
    }

    /// `GET /api/status/buildinfo`; `None` when the server has no such page (not a Tempo, e.g.
    /// the built-in sink).
    pub async fn build_info(&self) -> Result<Option<BuildInfo>, TempoError> {
        match self
            .get_json("/api/status/buildinfo", "the build info")
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(TempoError::Refused { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub async fn search(&self, search: &Search) -> Result<SearchResponse, TempoError> {
        let path = format!(
            "/api/search?q={}&start={}&end={}&limit={}&spss={}",
            encode(&search.q),
            search.start_s,
            search.end_s,
            search.limit,
            search.spss
        );
        self.get_json(&path, "a search").await
    }

    /// `GET /api/traces/<id>`; `None` when Tempo does not know the trace (404).
    pub async fn trace(&self, trace_id: &[u8; 16]) -> Result<Option<TraceResponse>, TempoError> {
        let path = format!("/api/traces/{}", hex_encode(trace_id));
        match self.get_json(&path, "a trace lookup").await {
            Ok(trace) => Ok(Some(trace)),
            Err(TempoError::Refused { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GET /api/metrics/query_range` (TraceQL metrics); `step_s` in seconds.
    pub async fn metrics_query_range(
        &self,
        q: &str,
        start_s: u64,
        end_s: u64,
        step_s: u64,
    ) -> Result<MetricsResponse, TempoError> {
        let path = format!(
            "/api/metrics/query_range?q={}&start={start_s}&end={end_s}&step={step_s}s",
            encode(q)
        );
        self.get_json(&path, "a TraceQL metrics query").await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, TempoError> {
        let body = self.get(path, what).await?;
        serde_json::from_slice(&body).map_err(|e| TempoError::Unexpected {
            what: what.to_string(),
            reason: format!("{e} in {}", snippet(&body)),
        })
    }

    /// One GET with retries: connection failures, timeouts, 429 and 5xx are retried with
    /// backoff (0.2 s, 0.4 s, 0.8 s...); other statuses are final.
    async fn get(&self, path: &str, what: &str) -> Result<Bytes, TempoError> {
        let mut backoff = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            let result = self.get_once(path, what).await;
            let retry = match &result {
                Err(TempoError::Unreachable { .. }) => true,
                Err(TempoError::Refused { status, .. }) => *status == 429 || *status >= 500,
                _ => false,
            };
            if !retry || attempt >= self.retries {
                return result;
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }

    async fn get_once(&self, path: &str, what: &str) -> Result<Bytes, TempoError> {
        let url = format!("{}{}", self.base, path);
        let unreachable = |reason: String| TempoError::Unreachable {
            url: self.base.clone(),
            reason,
        };
        let mut request = Request::get(&url);
        if let Some(tenant) = &self.auth.tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        if let Some(auth) = &self.auth.authorization {
            let mut value = HeaderValue::from_str(auth)
                .map_err(|_| unreachable("credentials are not a valid header value".into()))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| unreachable(format!("cannot build a request for {path}: {e}")))?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| {
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = format!("{reason}: {s}");
                    source = s.source();
                }
                unreachable(reason)
            })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer failed: {e}")))?
                .to_bytes();
            Ok::<_, TempoError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))??;
        if status != StatusCode::OK {
            return Err(TempoError::Refused {
                what: what.to_string(),
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        Ok(body)
    }
}

/// `scheme://user:password@host/...` as the URL without its userinfo, and the userinfo
/// percent-decoded (`p%40ss` is `p@ss`), as basic auth carries it.
fn split_userinfo(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => (
            format!("{scheme}://{host}{}", &rest[authority_end..]),
            Some(percent_decode(userinfo)),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL safe to print or write: any `user:password@` replaced by `***@`.
pub fn redact_userinfo(url: &str) -> String {
    match split_userinfo(url) {
        (bare, Some(_)) => bare.replacen("://", "://***@", 1),
        (bare, None) => bare,
    }
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_leaves_the_url_and_becomes_basic_auth() {
        assert_eq!(
            split_userinfo("http://tb:p%40ss@127.0.0.1:3200/x?q=a@b"),
            (
                "http://127.0.0.1:3200/x?q=a@b".to_string(),
                Some("tb:p@ss".to_string())
            )
        );
        assert_eq!(
            split_userinfo("http://127.0.0.1:3200/?q=a@b"),
            ("http://127.0.0.1:3200/?q=a@b".to_string(), None)
        );
        assert_eq!(
            redact_userinfo("http://tb:secret@localhost:3200"),
            "http://***@localhost:3200"
        );
        let client = TempoClient::new("http://tb:secret@127.0.0.1:3200/").unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:3200");
        assert!(!format!("{client:?}").contains("secret"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode(r#"{ resource.service.name = "a" }"#),
            "%7B%20resource.service.name%20%3D%20%22a%22%20%7D"
        );
    }

    #[test]
    fn debug_never_shows_credentials() {
        let auth = TempoAuth {
            tenant: Some("team-a".into()),
            authorization: Some("Bearer s3cret".into()),
        };
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("team-a"),
            "{shown}"
        );
    }

    #[test]
    fn only_http_urls() {
        assert!(matches!(
            TempoClient::new("https://tempo.example"),
            Err(TempoError::Unreachable { .. })
        ));
        assert!(TempoClient::new("http://127.0.0.1:3200/").is_ok());
    }

    #[test]
    fn snippets_are_bounded() {
        assert_eq!(snippet(&[b'x'; 300]).len(), 203);
    }
}
