//! Sending events through `POST /v1/events`: closed loop (a fixed number of
//! requests in flight) or open loop (a fixed rate, whatever the answers take).
//!
//! Each event's payload carries its sequence number and its submit time (ns since
//! the benchmark's start). In the open loop the submit time is the time the event
//! was due, not the time it went out, so a slow server cannot hide its queueing
//! (no coordinated omission).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::args::Load;
use super::receiver::payload;

/// Size of every event's payload, as JSON.
pub const PAYLOAD_BYTES: usize = 256;

/// Where and what to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:<port>/v1/events` of each `ledgerd`: event `seq` goes to
    /// `urls[seq % urls.len()]`.
    pub urls: Vec<String>,
    /// An API key with `events:write`.
    pub key: String,
    /// The events' type.
    pub event_type: String,
    /// Prefix of every `event_id` (unique per run).
    pub id_prefix: String,
    /// Times are measured from here.
    pub start: Instant,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// Spread the events over this many keys: `k` in the payload, `seq % keys`
    /// (the ordered scenario).
    pub keys: Option<u64>,
}

/// What sending produced.
#[derive(Debug, Default)]
pub struct Sent {
    /// Sequence numbers of the events answered 202.
    pub accepted: Vec<u64>,
    /// When each of `accepted` had its 202 (ns since the start), in the same order.
    pub accepted_at_ns: Vec<u64>,
    /// Submit → answer of every event answered 202.
    pub accept_latencies: Vec<Duration>,
    /// Other answers and failures, by kind.
    pub errors: BTreeMap<String, u64>,
    /// When the first event was submitted (ns since the start).
    pub first_submit_ns: u64,
    /// When the last 202 came (ns since the start).
    pub last_accept_ns: u64,
    /// Open loop only: the latest an event went out after it was due.
    pub max_send_lag: Duration,
}

impl Sent {
    fn merge(&mut self, other: Self) {
        self.accepted.extend(other.accepted);
        self.accepted_at_ns.extend(other.accepted_at_ns);
        self.accept_latencies.extend(other.accept_latencies);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.last_accept_ns = self.last_accept_ns.max(other.last_accept_ns);
        self.max_send_lag = self.max_send_lag.max(other.max_send_lag);
    }

    fn record(&mut self, seq: u64, due: Instant, outcome: Result<u16, String>, start: Instant) {
        let now = Instant::now();
        match outcome {
            Ok(202) => {
                self.accepted.push(seq);
                self.accepted_at_ns.push(ns(now - start));
                self.accept_latencies.push(now - due);
                self.last_accept_ns = self.last_accept_ns.max(ns(now - start));
            }
            Ok(status) => *self.errors.entry(format!("HTTP {status}")).or_default() += 1,
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Sends according to `load`.
pub async fn send(target: Arc<Target>, load: Load) -> Sent {
    match load {
        Load::Closed { events, in_flight } => closed(target, events, in_flight).await,
        Load::Open { rate, duration } => open(target, rate, duration).await,
    }
}

async fn post(target: &Target, seq: u64, due: Instant) -> Result<u16, String> {
    let mut payload = payload(seq, ns(due - target.start), PAYLOAD_BYTES);
    if let Some(keys) = target.keys {
        payload["k"] = json!(format!("k{}", seq % keys.max(1)));
    }
    let body = json!({
        "event_type": target.event_type,
        "source_system": "bench",
        "event_id": format!("{}-{seq}", target.id_prefix),
        "payload": payload,
    });
    let response = target
        .client
        .post(&target.urls[usize::try_from(seq).unwrap_or(0) % target.urls.len()])
        .bearer_auth(&target.key)
        .json(&body)
        .send()
        .await
        .map_err(|e| kind_of(&e))?;
    let status = response.status().as_u16();
    // Read the whole answer: "accepted" is when the client has it.
    response.bytes().await.map_err(|e| kind_of(&e))?;
    Ok(status)
}

fn kind_of(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timeout".into()
    } else if err.is_connect() {
        "connection refused".into()
    } else {
        "transport error".into()
    }
}

async fn closed(target: Arc<Target>, events: u64, in_flight: usize) -> Sent {
    let next = Arc::new(AtomicU64::new(0));
    let first_submit_ns = ns(target.start.elapsed());
    let mut workers = JoinSet::new();
    for _ in 0..in_flight.max(1) {
        let (target, next) = (target.clone(), next.clone());
        workers.spawn(async move {
            let mut sent = Sent::default();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= events {
                    return sent;
                }
                let due = Instant::now();
                let outcome = post(&target, seq, due).await;
                sent.record(seq, due, outcome, target.start);
            }
        });
    }
    let mut all = Sent {
        first_submit_ns,
        ..Sent::default()
    };
    while let Some(done) = workers.join_next().await {
        if let Ok(sent) = done {
            all.merge(sent);
        }
    }
    all
}

async fn open(target: Arc<Target>, rate: u64, duration: Duration) -> Sent {
    let events = rate * duration.as_secs();
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let t0 = Instant::now();
    let mut all = Sent {
        first_submit_ns: ns(t0 - target.start),
        ..Sent::default()
    };
    let mut tasks = JoinSet::new();
    for seq in 0..events {
        let due = t0 + period.mul_f64(seq as f64);
        tokio::time::sleep_until(due.into()).await;
        all.max_send_lag = all.max_send_lag.max(Instant::now() - due);
        let target = target.clone();
        tasks.spawn(async move {
            let mut sent = Sent::default();
            let outcome = post(&target, seq, due).await;
            sent.record(seq, due, outcome, target.start);
            sent
        });
        // Collect finished sends as we go, so the set stays small.
        while let Some(done) = tasks.try_join_next() {
            if let Ok(sent) = done {
                all.merge(sent);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(sent) = done {
            all.merge(sent);
        }
    }
    all
}
