//! The gRPC client: drives the demo's `user.UserService/Register` directly with tonic, through the
//! same generated code the demo serves, so a gRPC service can be measured without its gateway.
//! Each worker owns one channel (one HTTP/2 connection) and sends one call at a time, so
//! `connections` means the same for HTTP and gRPC: how many requests can be on the wire at once.

use demo_proto::RegisterRequest;
use demo_proto::user_service_client::UserServiceClient;
use tonic::transport::{Channel, Endpoint};

use super::record::{RequestOutcome, ResponseCode};
use super::template::BodyTemplate;
use super::trace_id::{DEFAULT_TRACE_HEADER, TraceId};

/// What to call over gRPC.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcEndpoint {
    /// `http://host:port` of the UserService.
    pub uri: http::Uri,
    /// Codes counted as success; every other code is an error.
    pub expect: Vec<tonic::Code>,
    /// Renders to a JSON object with the string fields `username`, `email` and `password`
    /// (default: [`BodyTemplate::default_register`]).
    pub body: BodyTemplate,
    /// The response metadata key that names the call's trace (lower case).
    pub trace_header: String,
}

impl GrpcEndpoint {
    /// The codes counted as success unless told otherwise: a registration that succeeded, or
    /// one whose user already exists.
    pub const DEFAULT_EXPECT: [tonic::Code; 2] = [tonic::Code::Ok, tonic::Code::AlreadyExists];

    /// The endpoint with the defaults `drive` and a scenario share: a unique registration as
    /// the body, [`Self::DEFAULT_EXPECT`].
    pub fn new(
        uri: http::Uri,
        body: Option<BodyTemplate>,
        expect: Option<Vec<tonic::Code>>,
    ) -> GrpcEndpoint {
        GrpcEndpoint {
            uri,
            expect: expect.unwrap_or_else(|| Self::DEFAULT_EXPECT.to_vec()),
            body: body.unwrap_or_else(BodyTemplate::default_register),
            trace_header: DEFAULT_TRACE_HEADER.to_owned(),
        }
    }

    /// The endpoint with the trace ID read from the metadata key `name` instead of
    /// `traceresponse`.
    pub fn with_trace_header(mut self, name: &http::HeaderName) -> GrpcEndpoint {
        self.trace_header = name.as_str().to_owned();
        self
    }
}

/// The JSON a gRPC body template renders to.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFields {
    username: String,
    email: String,
    password: String,
}

/// One channel to the service, connected on first use and again after a failure.
pub struct GrpcClient {
    target: std::sync::Arc<GrpcEndpoint>,
    client: Option<UserServiceClient<Channel>>,
}

impl GrpcClient {
    pub fn new(target: std::sync::Arc<GrpcEndpoint>) -> GrpcClient {
        GrpcClient {
            target,
            client: None,
        }
    }

    /// Registers the user the body template renders for request `seq`.
    pub async fn call(&mut self, seq: u64, run: &str) -> RequestOutcome {
        let client = match &mut self.client {
            Some(client) => client,
            None => match Endpoint::from(self.target.uri.clone())
                .tcp_nodelay(true)
                .connect()
                .await
            {
                Ok(channel) => self.client.insert(UserServiceClient::new(channel)),
                Err(err) => return RequestOutcome::Failed(format!("connect: {err}")),
            },
        };
        let body = self.target.body.render(seq, run);
        let request = match serde_json::from_slice::<RegisterFields>(&body) {
            Ok(f) => RegisterRequest {
                username: f.username,
                email: f.email,
                password: f.password,
            },
            Err(err) => return RequestOutcome::Failed(format!("body: {err}")),
        };
        let trace = |metadata: &tonic::metadata::MetadataMap| {
            let value = metadata.get(self.target.trace_header.as_str())?;
            TraceId::from_header(value.as_bytes())
        };
        let (code, trace) = match client.register(request).await {
            Ok(response) => (tonic::Code::Ok, trace(response.metadata())),
            Err(status) => (status.code(), trace(status.metadata())),
        };
        if code == tonic::Code::Unavailable {
            self.client = None;
        }
        RequestOutcome::Response {
            code: ResponseCode::grpc(code),
            ok: self.target.expect.contains(&code),
            trace,
        }
    }

    /// Forgets the channel (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.client = None;
    }
}
