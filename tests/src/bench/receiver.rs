//! The webhook receiver: a real HTTP server on 127.0.0.1 that verifies every
//! Standard Webhooks signature with the endpoint's secret, and notes when each
//! webhook arrived.
//!
//! Endpoint `n` posts to `/hook/{n}`. The body is the event's payload (identity
//! mapping), which carries the event's sequence number and its send time in
//! nanoseconds since the benchmark's start, so latency needs no shared map. With
//! `fail_first_attempt`, each webhook-id's first arrival is answered 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use domain::secrets::WebhookSecret;
use domain::signing;
use tokio_util::sync::CancellationToken;

/// What the receiver saw, as the benchmark reads it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every arrival per webhook-id, in nanoseconds since the start.
    pub by_webhook_id: HashMap<String, Arrivals>,
    /// First successful arrival per (endpoint, sequence): (sent ns, received ns).
    pub delivered: HashMap<(usize, u64), (u64, u64)>,
    /// Successful arrivals of a webhook already delivered (same webhook-id, or
    /// another webhook-id for the same event and endpoint).
    pub duplicates: u64,
    /// Arrivals whose signature did not verify (answered 401).
    pub bad_signatures: u64,
    /// Arrivals whose body is not a benchmark payload (answered 400).
    pub malformed: u64,
    /// Attempts answered 500 on purpose.
    pub failed_on_purpose: u64,
    /// When the last successful delivery arrived (ns since the start).
    pub last_delivery_ns: u64,
}

/// The arrivals of one webhook-id.
#[derive(Debug, Default, Clone)]
pub struct Arrivals {
    /// Arrival times (ns since the start), in order.
    pub at_ns: Vec<u64>,
    /// How many were answered 2xx.
    pub succeeded: u32,
}

#[derive(Debug)]
struct Shared {
    start: Instant,
    fail_first_attempt: bool,
    secrets: RwLock<HashMap<usize, WebhookSecret>>,
    seen: Mutex<Seen>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves until dropped. Times are measured from `start`.
    pub async fn start(start: Instant, fail_first_attempt: bool) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            start,
            fail_first_attempt,
            secrets: RwLock::new(HashMap::new()),
            seen: Mutex::new(Seen::default()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let app = axum::Router::new()
            .route("/hook/{n}", post(hook))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        Ok(Self { shared, port, stop })
    }

    /// The URL endpoint `n` is registered with.
    pub fn url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}/hook/{n}", self.port)
    }

    /// Sets the secret that signs endpoint `n`'s webhooks.
    pub fn set_secret(&self, n: usize, secret: WebhookSecret) {
        let mut secrets = self
            .shared
            .secrets
            .write()
            .unwrap_or_else(|e| e.into_inner());
        secrets.insert(n, secret);
    }

    /// How many distinct (endpoint, event) deliveries have arrived.
    pub fn delivered(&self) -> usize {
        self.with_seen(|seen| seen.delivered.len())
    }

    /// Reads what was seen so far.
    pub fn with_seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        let seen = self.shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        read(&seen)
    }
}

fn ns_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(n): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now_ns = ns_since(shared.start);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = {
        let secrets = shared.secrets.read().unwrap_or_else(|e| e.into_inner());
        secrets.get(&n).is_some_and(|secret| {
            signing::verify(
                secret,
                header(signing::HEADER_ID),
                header(signing::HEADER_TIMESTAMP),
                header(signing::HEADER_SIGNATURE),
                &body,
                chrono::Utc::now(),
                signing::DEFAULT_TOLERANCE,
            )
            .is_ok()
        })
    };
    let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
    if !verified {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Some((seq, sent_ns)) = read_payload(&body) else {
        seen.malformed += 1;
        return StatusCode::BAD_REQUEST;
    };
    let webhook_id = header(signing::HEADER_ID).unwrap_or_default().to_owned();
    let arrivals = seen.by_webhook_id.entry(webhook_id).or_default();
    arrivals.at_ns.push(now_ns);
    if shared.fail_first_attempt && arrivals.at_ns.len() == 1 {
        seen.failed_on_purpose += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    arrivals.succeeded += 1;
    let again = arrivals.succeeded > 1;
    if again || seen.delivered.contains_key(&(n, seq)) {
        seen.duplicates += 1;
    } else {
        seen.delivered.insert((n, seq), (sent_ns, now_ns));
        seen.last_delivery_ns = seen.last_delivery_ns.max(now_ns);
    }
    StatusCode::NO_CONTENT
}

/// The sequence number and send time a benchmark payload carries.
fn read_payload(body: &[u8]) -> Option<(u64, u64)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some((value.get("seq")?.as_u64()?, value.get("sent_ns")?.as_u64()?))
}

/// The benchmark payload of event `seq` sent at `sent_ns`, padded to `size` bytes
/// of JSON.
pub fn payload(seq: u64, sent_ns: u64, size: usize) -> serde_json::Value {
    let bare = serde_json::json!({"seq": seq, "sent_ns": sent_ns, "pad": ""});
    let len = bare.to_string().len();
    let pad = "x".repeat(size.saturating_sub(len));
    serde_json::json!({"seq": seq, "sent_ns": sent_ns, "pad": pad})
}

/// Time between each webhook's failed first attempt and its second arrival.
pub fn first_retry_delays(seen: &Seen) -> Vec<Duration> {
    seen.by_webhook_id
        .values()
        .filter(|a| a.at_ns.len() >= 2)
        .map(|a| Duration::from_nanos(a.at_ns[1].saturating_sub(a.at_ns[0])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_exactly_the_asked_size() {
        for seq in [0, 7, 123_456, u64::MAX] {
            let p = payload(seq, 987_654_321_000, 256);
            assert_eq!(p.to_string().len(), 256);
            assert_eq!(
                read_payload(p.to_string().as_bytes()),
                Some((seq, 987_654_321_000))
            );
        }
    }
}
