//! A scriptable webhook receiver: a real HTTP server on 127.0.0.1, port 0, that
//! answers each path from a script and keeps every request it saw.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use domain::secrets::WebhookSecret;
use domain::signing;
use tokio::time::Instant;
use url::Url;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, body `ok`.
    Status(u16),
    /// This status with `Retry-After: <secs>`.
    RetryAfter(u16, u64),
    /// 302 to `/elsewhere` on the same server.
    Redirect,
    /// Never answers.
    Hang,
    /// This status after a pause.
    Slow(u16, Duration),
}

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn webhook_id(&self) -> String {
        self.header(signing::HEADER_ID)
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether the Standard Webhooks signature verifies with `secret` alone.
    pub fn verifies_with(&self, secret: &WebhookSecret) -> bool {
        signing::verify(
            secret,
            self.header(signing::HEADER_ID),
            self.header(signing::HEADER_TIMESTAMP),
            self.header(signing::HEADER_SIGNATURE),
            &self.body,
            chrono::Utc::now(),
            signing::DEFAULT_TOLERANCE,
        )
        .is_ok()
    }

    pub fn signature_count(&self) -> usize {
        self.header(signing::HEADER_SIGNATURE)
            .map_or(0, |s| s.split(' ').count())
    }
}

#[derive(Debug, Default)]
struct Inner {
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    hits: Vec<Hit>,
    in_flight: HashMap<String, usize>,
    max_in_flight: HashMap<String, usize>,
}

/// A running receiver.
#[derive(Debug, Clone)]
pub struct Hooks {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Hooks {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, inner }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    /// Answers the next requests to `path` with `replies`, in order, then with the
    /// default (200 unless set).
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.inner
            .lock()
            .unwrap()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers `path` with `reply` once its script is used up.
    pub fn set_default(&self, path: &str, reply: Reply) {
        self.inner
            .lock()
            .unwrap()
            .defaults
            .insert(path.to_owned(), reply);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        let inner = self.inner.lock().unwrap();
        inner
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    pub fn all_hits(&self) -> Vec<Hit> {
        self.inner.lock().unwrap().hits.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().hits.len()
    }

    pub fn max_in_flight(&self, path: &str) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.max_in_flight.get(path).copied().unwrap_or(0)
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let reply = {
        let mut inner = inner.lock().unwrap();
        inner.hits.push(Hit {
            path: path.clone(),
            headers,
            body,
            at: Instant::now(),
        });
        let now = {
            let n = inner.in_flight.entry(path.clone()).or_default();
            *n += 1;
            *n
        };
        let max = inner.max_in_flight.entry(path.clone()).or_default();
        *max = (*max).max(now);
        let scripted = inner.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        scripted.unwrap_or_else(|| {
            inner
                .defaults
                .get(&path)
                .cloned()
                .unwrap_or(Reply::Status(200))
        })
    };
    let response = match reply {
        Reply::Status(code) => (status(code), "ok").into_response(),
        Reply::RetryAfter(code, secs) => (
            status(code),
            [(header::RETRY_AFTER, secs.to_string())],
            "later",
        )
            .into_response(),
        Reply::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, "/elsewhere")],
            "moved",
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::OK, "too late").into_response()
        }
        Reply::Slow(code, pause) => {
            tokio::time::sleep(pause).await;
            (status(code), "ok").into_response()
        }
    };
    if let Some(n) = inner.lock().unwrap().in_flight.get_mut(&path) {
        *n -= 1;
    }
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}
