//! Test support of the dispatcher's tests.
//!
//! - [`Receiver`] (this file): a fixed-route HTTP receiver for the sender's tests.
//! - [`hooks`]: a scriptable webhook receiver that keeps every request.
//! - [`pipeline`]: projector, router and dispatchers running on a fresh database,
//!   and the commands the API would issue.
#![allow(dead_code)] // each test binary uses a different part of it

pub mod hooks;
pub mod pipeline;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::Router;
use dispatcher::{OutboundRequest, WebhookHeaders};
use url::Url;

/// Size of the body `/huge` answers with.
pub const HUGE_BODY_LEN: usize = 8 * 1024 * 1024; // far above any excerpt bound

/// What the receiver saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests per path.
    hits: Mutex<HashMap<String, usize>>,
    /// Requests in total.
    total: AtomicUsize,
    /// Headers and body of the last request to `/echo`.
    last: Mutex<Option<(HeaderMap, Bytes)>>,
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Receiver {
    pub async fn start() -> Self {
        let seen = Arc::new(Seen::default());
        let app = Router::new()
            .route("/ok", post(|| async { (StatusCode::OK, "delivered") }))
            .route(
                "/fail",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route("/redirect", post(redirect))
            .route("/target", any(|| async { "reached" }))
            .route("/throttle", post(throttle))
            .route("/hang", post(hang))
            .route("/huge", post(|| async { vec![b'x'; HUGE_BODY_LEN] }))
            .route("/echo", post(echo))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&seen),
                count,
            ))
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, seen }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    /// `http://localhost:<port><path>`: a name, so it goes through DNS.
    pub fn named_url(&self, path: &str) -> Url {
        Url::parse(&format!("http://localhost:{}{path}", self.addr.port())).unwrap()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.seen.total.load(Ordering::SeqCst)
    }

    pub fn last_echo(&self) -> (HeaderMap, Bytes) {
        self.seen.last.lock().unwrap().clone().unwrap()
    }
}

async fn count(
    State(seen): State<Arc<Seen>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    seen.total.fetch_add(1, Ordering::SeqCst);
    *seen
        .hits
        .lock()
        .unwrap()
        .entry(request.uri().path().to_owned())
        .or_default() += 1;
    next.run(request).await
}

async fn redirect(headers: HeaderMap) -> impl IntoResponse {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("http://{host}/target"))],
        "moved",
    )
}

async fn throttle() -> impl IntoResponse {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "7")],
        "slow down",
    )
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "too late"
}

async fn echo(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    *seen.last.lock().unwrap() = Some((headers, body));
    StatusCode::NO_CONTENT
}

/// A webhook for `url` with fixed header values.
pub fn webhook(url: Url) -> OutboundRequest {
    OutboundRequest {
        url,
        body: Bytes::from_static(br#"{"type":"order.created","id":42}"#),
        headers: WebhookHeaders {
            id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".to_owned(),
            timestamp: "1674087231".to_owned(),
            signature: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,AAAA".to_owned(),
        },
        timeout: None,
    }
}
