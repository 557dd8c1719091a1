//! What the worker reports through the `metrics` facade: one count per delivery
//! that succeeded, per failed attempt and per dead-lettered delivery, and each
//! attempt's duration. Recorded once the attempt is recorded in the log, so an
//! attempt made again after its recording failed is counted once. The process's
//! recorder (installed by the API, `api::metrics`) keeps them; without one they
//! are dropped.

use std::time::Duration;

use domain::delivery::DeliveryEvent;
use domain::retry::AttemptOutcome;

/// Counter of deliveries that succeeded.
pub const DELIVERED_TOTAL: &str = "ledger_deliveries_succeeded_total";
/// Counter of failed attempts (retried or not; mapping errors included).
pub const FAILED_ATTEMPTS_TOTAL: &str = "ledger_delivery_attempts_failed_total";
/// Counter of deliveries dead-lettered.
pub const DEAD_LETTERED_TOTAL: &str = "ledger_deliveries_dead_lettered_total";
/// Histogram of attempts' durations, in seconds (a mapping error's: the mapping's).
pub const DELIVERY_LATENCY: &str = "ledger_delivery_latency_seconds";

/// Counts what recording one attempt appended to the delivery's stream.
pub(crate) fn recorded<'a>(
    outcome: &AttemptOutcome,
    duration: Duration,
    events: impl IntoIterator<Item = &'a DeliveryEvent>,
) {
    for event in events {
        match event {
            DeliveryEvent::AttemptRecorded { .. } => {
                metrics::histogram!(DELIVERY_LATENCY).record(duration.as_secs_f64());
                if !outcome.is_success() {
                    metrics::counter!(FAILED_ATTEMPTS_TOTAL).increment(1);
                }
            }
            DeliveryEvent::DeliverySucceeded { .. } => {
                metrics::counter!(DELIVERED_TOTAL).increment(1);
            }
            DeliveryEvent::DeliveryDeadLettered { .. } => {
                metrics::counter!(DEAD_LETTERED_TOTAL).increment(1);
            }
            _ => {}
        }
    }
}
