//! The outbound HTTP client that POSTs a signed webhook and reports what
//! happened.
//!
//! [`Sender::send`] never fails and never panics: a refused target, a timeout
//! or a reset connection is an [`Outcome`] like a 500 is, and the delivery's
//! retry policy decides what follows. Redirects are not followed (a 3xx is the
//! outcome: following one would also sidestep the SSRF check of the original
//! URL), and the response body is read only up to a bound.

mod response;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use url::Url;

use crate::ssrf::{GuardedResolver, SsrfError, TargetPolicy};
use store::report::find_in_chain;

pub use response::parse_retry_after;

/// The `user-agent` every webhook carries.
pub const USER_AGENT: &str = concat!("IntegrationLedger/", env!("CARGO_PKG_VERSION"));

/// How the outbound client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Bound on resolving the host and establishing the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Bound on the whole exchange, from connecting until the body excerpt is read.
    pub total_timeout: Duration,
    /// How many bytes of the response body are kept; the rest is never read.
    pub body_excerpt_limit: usize,
    /// How long an idle pooled connection is kept for reuse.
    pub pool_idle_timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            body_excerpt_limit: 1024,
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// The three Standard Webhooks headers, computed by the caller (the signing
/// lives in the domain; the sender only carries the values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `webhook-id`: the delivery's id, stable across retries.
    pub id: String,
    /// `webhook-timestamp`: seconds since the Unix epoch, as signed.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64>`, possibly several separated by spaces.
    pub signature: String,
}

/// One webhook to POST.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// The endpoint's URL.
    pub url: Url,
    /// The JSON body, exactly as signed.
    pub body: Bytes,
    /// The signature headers.
    pub headers: WebhookHeaders,
    /// A total timeout for this request (the endpoint's own), used when shorter
    /// than the client's `total_timeout`.
    pub timeout: Option<Duration>,
}

/// What happened to one attempt.
#[derive(Debug)]
pub struct Outcome {
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// Time from the start of the attempt until the outcome was known.
    pub duration: Duration,
    /// The response's `Retry-After`, as a delay from now (seconds or HTTP date).
    pub retry_after: Option<Duration>,
    /// The start of the response body (lossy UTF-8), cut at the configured bound.
    pub body_excerpt: String,
    /// Why no response arrived; `None` whenever `status` is set. An error while
    /// reading the body after the status arrived only shortens the excerpt.
    pub error: Option<SendError>,
}

impl Outcome {
    /// Whether the endpoint accepted the webhook (a 2xx status).
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    fn failed(error: SendError, started: Instant) -> Self {
        Self {
            status: None,
            duration: started.elapsed(),
            retry_after: None,
            body_excerpt: String::new(),
            error: Some(error),
        }
    }
}

/// Why an attempt got no response (or the client could not be built).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The connect or total timeout elapsed.
    #[error("the request timed out")]
    Timeout {
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// No connection could be established (refused, unreachable, DNS failure, TLS).
    #[error("could not connect to the endpoint")]
    Connect {
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The SSRF guard refused the target; no connection was attempted.
    #[error("the target was refused")]
    Forbidden(#[source] SsrfError),
    /// A webhook header value given by the caller is not a valid header value.
    #[error("invalid value for header `{name}`")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// Why the value was rejected.
        #[source]
        source: reqwest::header::InvalidHeaderValue,
    },
    /// Any other failure while sending or receiving (protocol error, reset).
    #[error("the request failed")]
    Other {
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("could not build the HTTP client")]
    ClientBuild {
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
}

impl SendError {
    /// A stable, machine-readable code for this error, for attempt records
    /// and dead-letter reasons. A refusal carries the guard's own code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Connect { .. } => "connect_failed",
            Self::Forbidden(ssrf) => ssrf.code(),
            Self::InvalidHeader { .. } => "invalid_header",
            Self::Other { .. } => "send_failed",
            Self::ClientBuild { .. } => "client_build_failed",
        }
    }

    /// The message with its whole chain of causes, `: `-separated, for a
    /// human-readable reason that says more than the top-level message.
    pub fn report(&self) -> String {
        store::report::chain(self)
    }

    fn from_client(source: reqwest::Error) -> Self {
        // The URL may hold a secret (many receivers put a token in the path or
        // query); errors end up in logs and dead-letter reasons, so drop it.
        let source = source.without_url();
        // A refusal by the resolver travels up through the connector's errors.
        if let Some(ssrf) = find_in_chain::<SsrfError>(&source) {
            if ssrf.is_refusal() {
                return Self::Forbidden(ssrf.clone());
            }
        }
        if source.is_timeout() {
            Self::Timeout { source }
        } else if source.is_connect() {
            Self::Connect { source }
        } else {
            Self::Other { source }
        }
    }
}

/// The pooled outbound client. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    body_excerpt_limit: usize,
    total_timeout: Duration,
}

impl Sender {
    /// Builds the client: pooled, HTTP/1.1, rustls with the webpki roots, no
    /// proxy (a proxy would resolve names itself, around the guard), no
    /// redirects, and every host name resolved through [`GuardedResolver`].
    pub fn new(config: &SenderConfig, policy: TargetPolicy) -> Result<Self, SendError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&policy))))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|source| SendError::ClientBuild { source })?;
        Ok(Self {
            client,
            policy,
            body_excerpt_limit: config.body_excerpt_limit,
            total_timeout: config.total_timeout,
        })
    }

    /// The policy this sender enforces.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// POSTs one webhook and reports the outcome. Never panics and never
    /// fails: every failure is described by [`Outcome::error`].
    #[tracing::instrument(
        skip_all,
        fields(host = request.url.host_str().unwrap_or_default(), webhook_id = %request.headers.id)
    )]
    pub async fn send(&self, request: OutboundRequest) -> Outcome {
        let started = Instant::now();
        // IP literals never reach the resolver, so they are checked here.
        if let Err(refused) = self.policy.check_url(&request.url) {
            tracing::warn!(code = refused.code(), error = %refused, "ssrf guard refused target");
            return Outcome::failed(SendError::Forbidden(refused), started);
        }
        let headers = match webhook_header_map(&request.headers) {
            Ok(headers) => headers,
            Err(err) => return Outcome::failed(err, started),
        };
        let mut builder = self
            .client
            .post(request.url)
            .headers(headers)
            .body(request.body);
        if let Some(timeout) = request.timeout.filter(|t| *t < self.total_timeout) {
            builder = builder.timeout(timeout);
        }
        let sent = builder.send().await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                let err = SendError::from_client(err);
                tracing::debug!(code = err.code(), error = %err.report(), "webhook not delivered");
                return Outcome::failed(err, started);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body_excerpt = response::read_excerpt(&mut response, self.body_excerpt_limit).await;
        Outcome {
            status: Some(status),
            duration: started.elapsed(),
            retry_after,
            body_excerpt,
            error: None,
        }
    }
}

fn webhook_header_map(headers: &WebhookHeaders) -> Result<HeaderMap, SendError> {
    let mut map = HeaderMap::with_capacity(4);
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in [
        ("webhook-id", &headers.id),
        ("webhook-timestamp", &headers.timestamp),
        ("webhook-signature", &headers.signature),
    ] {
        let value = HeaderValue::from_str(value)
            .map_err(|source| SendError::InvalidHeader { name, source })?;
        map.insert(HeaderName::from_static(name), value);
    }
    Ok(map)
}
