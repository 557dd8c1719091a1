//! Shared fixtures.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::services::FixedClock;
use domain::Services;

/// The instant every test starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0)
        .single()
        .expect("valid instant")
}

/// Deterministic services standing at [`t0`].
pub fn services() -> Services {
    Services::deterministic(t0())
}

/// Deterministic services whose clock the test can move.
pub fn services_with_clock() -> (Services, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(t0()));
    (
        Services {
            clock: clock.clone(),
            ..Services::deterministic(t0())
        },
        clock,
    )
}

/// Runs one command against an aggregate in place (events are applied), as the
/// cqrs-es framework does, for tests that chain many commands.
pub async fn execute<A: Aggregate>(
    aggregate: &mut A,
    command: A::Command,
    services: &A::Services,
) -> Result<Vec<A::Event>, A::Error> {
    let sink = EventSink::default();
    aggregate.handle(command, services, &sink).await?;
    Ok(sink.collect().await)
}

/// A single-threaded runtime for property tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}
