//! Metadata of the commands this crate issues on its own (design decision 3).

use std::collections::HashMap;

use domain::metadata::{Actor, CommandMetadata};

/// The `"{aggregate_type}:{aggregate_id}:{sequence}"` reference of one event, the
/// form `causation_id` takes when a command reacts to an event.
pub(crate) fn event_ref(aggregate_type: &str, aggregate_id: &str, sequence: i64) -> String {
    format!("{aggregate_type}:{aggregate_id}:{sequence}")
}

/// Metadata for a command the system issues because of the event `cause_ref`,
/// whose own metadata (as stored, a JSON object) is `cause`. The correlation id is
/// carried over; when the cause has none, the cause itself becomes the correlation.
pub(crate) fn caused_by(
    cause: Option<&serde_json::Value>,
    request_id: String,
    cause_ref: String,
) -> HashMap<String, String> {
    let parsed = cause
        .and_then(|value| serde_json::from_value::<HashMap<String, String>>(value.clone()).ok())
        .and_then(|map| CommandMetadata::from_map(&map).ok());
    let metadata = match parsed {
        Some(cause) => CommandMetadata::caused_by(&cause, request_id, cause_ref),
        None => CommandMetadata {
            actor: Actor::System,
            request_id,
            correlation_id: cause_ref.clone(),
            causation_id: cause_ref,
        },
    };
    metadata.into_map()
}

/// Metadata for a system command with a known correlation id (or none).
pub(crate) fn system(
    request_id: String,
    correlation_id: Option<String>,
    causation_id: String,
) -> HashMap<String, String> {
    CommandMetadata {
        actor: Actor::System,
        request_id,
        correlation_id: correlation_id.unwrap_or_else(|| causation_id.clone()),
        causation_id,
    }
    .into_map()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correlation_is_carried_over_and_the_cause_is_the_event() {
        let cause = CommandMetadata::for_request(Actor::System, "req-1").into_map();
        let cause = serde_json::to_value(cause).unwrap_or_default();
        let map = caused_by(
            Some(&cause),
            "router:5".into(),
            event_ref("IntegrationEvent", "erp:k", 1),
        );
        assert_eq!(map["correlation_id"], "req-1");
        assert_eq!(map["causation_id"], "IntegrationEvent:erp:k:1");
        assert_eq!(map["actor"], "system");

        let map = caused_by(None, "router:5".into(), "X:1:1".into());
        assert_eq!(map["correlation_id"], "X:1:1");
    }
}
