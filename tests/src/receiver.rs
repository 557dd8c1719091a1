//! A webhook receiver on 127.0.0.1 for the process tests: it records each arrival's
//! `webhook-id` and the `k` of its JSON body, and answers 200, after a pause if told.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// The `webhook-id` header of a request (empty when missing or not text).
pub fn webhook_id(headers: &HeaderMap) -> String {
    headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// When a request is answered, and whether it counts if its sender goes away first.
#[derive(Debug, Clone, Copy)]
pub enum Pause {
    /// Recorded and answered at once.
    None,
    /// Recorded on arrival, answered after the pause: a send counts although its
    /// sender is killed while waiting.
    AfterRecording(Duration),
    /// Answered and recorded after the pause: a send whose sender went away meanwhile
    /// does not count (axum drops the handler).
    BeforeRecording(Duration),
}

/// One request that reached the receiver.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Its `webhook-id` header (empty when missing).
    pub webhook_id: String,
    /// The `k` field of its JSON body, when it has one.
    pub key: Option<String>,
}

/// The receiver: its address, and what reached it so far.
#[derive(Debug, Clone)]
pub struct Recorder {
    port: u16,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl Recorder {
    /// Starts a receiver of `POST /hook` on a free port.
    pub async fn start(pause: Pause) -> Self {
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let state = arrivals.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let arrivals = state.clone();
                async move {
                    let arrival = Arrival {
                        webhook_id: webhook_id(&headers),
                        key: serde_json::from_str::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|b| b["k"].as_str().map(str::to_owned)),
                    };
                    let record = |arrival| arrivals.lock().expect("not poisoned").push(arrival);
                    match pause {
                        Pause::None => record(arrival),
                        Pause::AfterRecording(pause) => {
                            record(arrival);
                            tokio::time::sleep(pause).await;
                        }
                        Pause::BeforeRecording(pause) => {
                            tokio::time::sleep(pause).await;
                            record(arrival);
                        }
                    }
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, arrivals }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL endpoints deliver to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// How many times each `webhook-id` arrived.
    pub fn by_webhook_id(&self) -> HashMap<String, u32> {
        let mut counts = HashMap::new();
        for arrival in self.arrivals.lock().expect("not poisoned").iter() {
            *counts.entry(arrival.webhook_id.clone()).or_default() += 1;
        }
        counts
    }

    /// How many distinct `webhook-id`s arrived.
    pub fn distinct(&self) -> usize {
        self.by_webhook_id().len()
    }

    /// Per body key, the `webhook-id`s it arrived with.
    pub fn webhook_ids_by_key(&self) -> HashMap<String, HashSet<String>> {
        let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
        for arrival in self.arrivals.lock().expect("not poisoned").iter() {
            if let Some(key) = &arrival.key {
                ids.entry(key.clone())
                    .or_default()
                    .insert(arrival.webhook_id.clone());
            }
        }
        ids
    }
}
