//! The delivery side of Integration Ledger: every accepted event reaches every
//! subscribed endpoint, signed, or ends in the dead letter with a reason.
//!
//! The dispatcher never decides what an outcome means (retry, dead letter, circuit
//! breaker): the domain's `Delivery` aggregate and rules do. This crate routes,
//! claims, maps, signs, sends and describes, refuses targets the service must never
//! reach, and records what happened through the command bus.
//!
//! "Design decision N" in this crate's docs is decision N of the list in
//! `docs/architecture.md`.
//!
//! # Layout
//!
//! - [`router`]: the `router` subscription. Each `EventReceived` becomes a recorded
//!   fan-out (`RecordRouting`) and one `Delivery::Schedule` per subscribed endpoint;
//!   idempotent, so a replayed batch creates nothing new.
//! - [`worker`]: the dispatcher loop. Claims due `retry_queue` rows with a lease
//!   (`FOR UPDATE SKIP LOCKED`, many per query), runs each delivery's mapping, signs
//!   (Standard Webhooks, every active secret), sends, records the attempt, and
//!   applies 410 Gone and the circuit breaker. Global and per-endpoint limits, woken
//!   by `NOTIFY`, graceful shutdown, takeover after lease expiry.
//! - [`sandbox`]: the mapping sandbox. Mappings (jq) run in a pool of child
//!   processes ([`sandbox::SandboxPool`]), so a program that overflows the stack,
//!   exhausts memory or never ends costs only its child; [`sandbox::worker`] is the
//!   child's side (`ledgerd mapping-worker`).
//! - [`notices`]: the `notices` subscription. Domain events an operator must
//!   hear of become integration events of the ledger itself (`ledger.*`), delivered
//!   like any other; exactly once per cause, aggregated against storms (ADR 0016).
//! - [`replay`]: requeueing one dead-lettered delivery, or all matching a filter as
//!   a `dead_letter_replay` sync job with progress.
//! - [`config`]: [`RouterConfig`] and [`DispatcherConfig`], validated at start.
//! - [`metrics`]: the names of the delivery counters and latency histogram the
//!   worker records through the `metrics` facade (the API serves them).
//! - [`ssrf`]: the SSRF guard. [`TargetPolicy`] (allowed CIDRs from
//!   `LEDGER_ALLOWED_TARGETS`) says which addresses are forbidden and checks a
//!   URL; [`GuardedResolver`] resolves host names for the HTTP client and hands
//!   it only checked addresses, so the connection goes where the check looked.
//! - [`sender`]: the pooled outbound HTTP client. [`Sender::send`] POSTs one
//!   [`OutboundRequest`] with its Standard Webhooks headers and returns an
//!   [`Outcome`] (status, duration, `Retry-After`, a bounded body excerpt, or a
//!   [`SendError`]) without ever failing or following a redirect.
//!
//! Entry points for `ledgerd serve --roles router,dispatcher`: [`run_router`] and
//! [`run_dispatcher`]; for the API: [`replay::requeue`] and
//! [`replay::start_bulk_replay`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod hot;
mod meta;
pub mod metrics;
pub mod notices;
pub mod replay;
pub mod router;
pub mod sandbox;
pub mod sender;
pub mod ssrf;
pub mod worker;

use projections::subscription::{Subscription, SubscriptionError};
use store::ledger::Ledger;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, DispatcherConfig, RouterConfig};
pub use hot::{local_channel, HotPath};
pub use replay::{ReplayError, ReplayFilter, ReplayOptions, Requeued};
pub use router::{Router, ROUTER_NAME};
pub use sender::{
    OutboundRequest, Outcome, SendError, Sender, SenderConfig, WebhookHeaders, USER_AGENT,
};
pub use ssrf::{GuardedResolver, SsrfError, TargetPolicy};
pub use worker::{run_dispatcher, run_dispatcher_with, DispatchError, QUEUE_CHANNEL};

/// Why the router stopped.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A setting is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The subscription stopped on an event it cannot route, or lost the database.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
}

/// Runs the router until `shutdown`: one active instance across all processes
/// (the subscription's advisory lock); the others wait to take over.
pub async fn run_router(
    ledger: Ledger,
    config: RouterConfig,
    shutdown: CancellationToken,
) -> Result<(), RouterError> {
    config.validate()?;
    let pool = ledger.pool().clone();
    let subscription = config.subscription.clone();
    let on_stop = projections::subscription::record_stops(ledger.clone());
    let router = Router::new(ledger, config);
    Subscription::new(pool, router, subscription)
        .on_stop(on_stop)
        .run(shutdown)
        .await?;
    Ok(())
}

pub(crate) use store::report::chain as report;
