//! Operational notices: what the ledger tells its operators about itself, as
//! integration events of its own (source system [`SOURCE`], event types under
//! `ledger.`), routed, mapped, signed, retried and audited like any other (ADR 0016).
//!
//! This module is the catalogue: each notice's type, what causes it, and the JSON
//! Schema of its payload (version [`VERSION`]). Every payload carries the envelope
//! `{version, type, occurred_at, cause}` and the fields of its type; `cause` names the
//! domain event that caused it (`aggregate_type`, `aggregate_id`, `sequence`,
//! `position`), or, for an aggregated notice, the first of them.

use serde_json::{json, Value};

/// The source system of every notice.
pub const SOURCE: &str = "ledger";

/// The payloads' version (`version` in each).
pub const VERSION: u32 = 1;

/// The notices, by event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeType {
    /// An endpoint was disabled: by a 410, the circuit breaker giving up, or an operator.
    EndpointDisabled,
    /// A disabled endpoint was enabled.
    EndpointEnabled,
    /// An endpoint's attempts have all failed for a while (the breaker's streak).
    EndpointCircuitOpened,
    /// An endpoint answered again after its circuit opened.
    EndpointCircuitClosed,
    /// An endpoint's signing secret was rotated.
    EndpointSecretRotated,
    /// Deliveries to an endpoint were dead-lettered (one notice per endpoint per window).
    DeliveryDeadLettered,
    /// A sync job succeeded.
    SyncJobFinished,
    /// A sync job failed.
    SyncJobFailed,
    /// A subscription over the log stopped on an event it cannot apply.
    ProjectionStopped,
    /// A stopped subscription was resumed, or its event parked.
    ProjectionResumed,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// A mapping version was published.
    MappingPublished,
    /// A mapping was retired.
    MappingRetired,
    /// A verification of the log found an altered event.
    AuditChainBroken,
}

impl NoticeType {
    /// Every notice type.
    pub const ALL: [NoticeType; 14] = [
        Self::EndpointDisabled,
        Self::EndpointEnabled,
        Self::EndpointCircuitOpened,
        Self::EndpointCircuitClosed,
        Self::EndpointSecretRotated,
        Self::DeliveryDeadLettered,
        Self::SyncJobFinished,
        Self::SyncJobFailed,
        Self::ProjectionStopped,
        Self::ProjectionResumed,
        Self::ApiKeyRevoked,
        Self::MappingPublished,
        Self::MappingRetired,
        Self::AuditChainBroken,
    ];

    /// The event type, e.g. `ledger.endpoint.disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointDisabled => "ledger.endpoint.disabled",
            Self::EndpointEnabled => "ledger.endpoint.enabled",
            Self::EndpointCircuitOpened => "ledger.endpoint.circuit_opened",
            Self::EndpointCircuitClosed => "ledger.endpoint.circuit_closed",
            Self::EndpointSecretRotated => "ledger.endpoint.secret_rotated",
            Self::DeliveryDeadLettered => "ledger.delivery.dead_lettered",
            Self::SyncJobFinished => "ledger.sync_job.finished",
            Self::SyncJobFailed => "ledger.sync_job.failed",
            Self::ProjectionStopped => "ledger.projection.stopped",
            Self::ProjectionResumed => "ledger.projection.resumed",
            Self::ApiKeyRevoked => "ledger.api_key.revoked",
            Self::MappingPublished => "ledger.mapping.published",
            Self::MappingRetired => "ledger.mapping.retired",
            Self::AuditChainBroken => "ledger.audit.chain_broken",
        }
    }

    /// The notice type of an event type, if it is one.
    pub fn parse(event_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == event_type)
    }

    /// What causes it, in a sentence (the schema's description).
    pub fn description(self) -> &'static str {
        match self {
            Self::EndpointDisabled => "An endpoint was disabled: by a 410 Gone (`gone`), by the circuit breaker giving up (`circuit_breaker`) or by an operator (`manual`). Its deliveries wait until it is enabled.",
            Self::EndpointEnabled => "A disabled endpoint was enabled; its waiting deliveries go out again.",
            Self::EndpointCircuitOpened => "Every attempt to an endpoint has failed, `failed_attempts` in a row since `failing_since`; the circuit breaker disables it if this lasts.",
            Self::EndpointCircuitClosed => "An endpoint whose circuit had opened answered with success again.",
            Self::EndpointSecretRotated => "An endpoint's signing secret was replaced; the previous one signs too until `previous_secret_expires_at`.",
            Self::DeliveryDeadLettered => "Deliveries to one endpoint were dead-lettered: one notice per endpoint per window, with the count and the first of them.",
            Self::SyncJobFinished => "A sync job (a projection rebuild, a dead-letter replay, a verification of the log) succeeded.",
            Self::SyncJobFailed => "A sync job failed; `error` says why.",
            Self::ProjectionStopped => "A subscription over the log stopped on an event it cannot apply; an operator parks the event or resumes it once fixed.",
            Self::ProjectionResumed => "A stopped subscription was told to try its event again (`resumed`), or to pass over it (`parked`).",
            Self::ApiKeyRevoked => "An API key was revoked; it authenticates no more.",
            Self::MappingPublished => "A new version of the mapping of an event type for a target system was published.",
            Self::MappingRetired => "The live version of a mapping was retired: the event type goes to no endpoint of that system until a new version.",
            Self::AuditChainBroken => "A verification of the log found an event whose stored hash does not match its content: the log was altered behind the ledger's back.",
        }
    }

    /// The properties of its payload besides the envelope, and which are required.
    fn fields(self) -> (Value, Vec<&'static str>) {
        let id = json!({"type": "string", "pattern": "^[0-9]+$", "description": "a 64-bit id, in decimal"});
        let time = json!({"type": "string", "format": "date-time"});
        let text = json!({"type": "string"});
        let count = json!({"type": "integer", "minimum": 0});
        let nullable = |v: &Value| {
            let mut v = v.clone();
            if let Some(t) = v.get("type").cloned() {
                v["type"] = json!([t, "null"]);
            }
            v
        };
        match self {
            Self::EndpointDisabled => (
                json!({
                    "endpoint_id": id,
                    "reason": {"enum": ["gone", "circuit_breaker", "manual"]},
                }),
                vec!["endpoint_id", "reason"],
            ),
            Self::EndpointEnabled => (json!({ "endpoint_id": id }), vec!["endpoint_id"]),
            Self::EndpointCircuitOpened => (
                json!({"endpoint_id": id, "failed_attempts": count, "failing_since": time}),
                vec!["endpoint_id", "failed_attempts", "failing_since"],
            ),
            Self::EndpointCircuitClosed => (
                json!({"endpoint_id": id, "failed_attempts": count, "failing_since": time}),
                vec!["endpoint_id", "failed_attempts", "failing_since"],
            ),
            Self::EndpointSecretRotated => (
                json!({"endpoint_id": id, "previous_secret_expires_at": nullable(&time)}),
                vec!["endpoint_id", "previous_secret_expires_at"],
            ),
            Self::DeliveryDeadLettered => (
                json!({
                    "endpoint_id": id,
                    "count": count,
                    "window_start": time,
                    "window_end": time,
                    "first": {
                        "type": "array",
                        "maxItems": 10,
                        "items": {
                            "type": "object",
                            "required": ["delivery_id", "event_id", "attempts", "last_status", "reason"],
                            "properties": {
                                "delivery_id": id,
                                "event_id": id,
                                "attempts": count,
                                "last_status": {"type": ["integer", "null"], "description": "the last HTTP status received"},
                                "reason": text,
                            },
                        },
                    },
                }),
                vec![
                    "endpoint_id",
                    "count",
                    "window_start",
                    "window_end",
                    "first",
                ],
            ),
            Self::SyncJobFinished | Self::SyncJobFailed => (
                json!({
                    "job_id": id,
                    "job_type": text,
                    "done": count,
                    "total": count,
                    "duration_ms": count,
                    "error": nullable(&text),
                }),
                vec![
                    "job_id",
                    "job_type",
                    "done",
                    "total",
                    "duration_ms",
                    "error",
                ],
            ),
            Self::ProjectionStopped => (
                json!({"name": text, "position": {"type": "string", "pattern": "^[0-9]+$"}, "error": text}),
                vec!["name", "position", "error"],
            ),
            Self::ProjectionResumed => (
                json!({"name": text, "how": {"enum": ["resumed", "parked"]}, "position": nullable(&json!({"type": "string"}))}),
                vec!["name", "how", "position"],
            ),
            Self::ApiKeyRevoked => (
                json!({"key_id": id, "reason": nullable(&text)}),
                vec!["key_id", "reason"],
            ),
            Self::MappingPublished | Self::MappingRetired => (
                json!({"mapping_id": id, "event_type": text, "target_system": text, "version": count}),
                vec!["mapping_id", "event_type", "target_system", "version"],
            ),
            Self::AuditChainBroken => (
                json!({"job_id": id, "aggregate_type": text, "aggregate_id": text, "sequence": count}),
                vec!["job_id", "aggregate_type", "aggregate_id", "sequence"],
            ),
        }
    }

    /// The JSON Schema (draft 2020-12) of its payload.
    pub fn schema(self) -> Value {
        let (mut properties, specific) = self.fields();
        let envelope = json!({
            "version": {"const": VERSION},
            "type": {"const": self.as_str()},
            "occurred_at": {"type": "string", "format": "date-time"},
            "cause": {
                "type": "object",
                "description": "the domain event that caused it (for an aggregated notice, the first)",
                "required": ["aggregate_type", "aggregate_id", "sequence", "position"],
                "properties": {
                    "aggregate_type": {"type": "string"},
                    "aggregate_id": {"type": "string"},
                    "sequence": {"type": "integer", "minimum": 1},
                    "position": {"type": "string", "pattern": "^[0-9]+$"},
                },
            },
        });
        if let (Some(all), Some(env)) = (properties.as_object_mut(), envelope.as_object()) {
            for (k, v) in env {
                all.insert(k.clone(), v.clone());
            }
        }
        let mut required = vec!["version", "type", "occurred_at", "cause"];
        required.extend(specific);
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("/v1/notices/{}.schema.json", self.as_str()),
            "title": self.as_str(),
            "description": self.description(),
            "type": "object",
            "required": required,
            "properties": properties,
        })
    }
}

/// The endpoint a notice is about, if it names one: a notice is never routed to the
/// endpoint it is about (when that endpoint fails, it would notify itself).
pub fn subject_endpoint(source_system: &str, event_type: &str, payload: &Value) -> Option<i64> {
    if source_system != SOURCE || !event_type.starts_with("ledger.") {
        return None;
    }
    match payload.get("endpoint_id")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_is_a_valid_event_type() {
        for t in NoticeType::ALL {
            assert_eq!(NoticeType::parse(t.as_str()), Some(t));
            assert!(
                crate::values::EventType::parse(t.as_str()).is_ok(),
                "{}",
                t.as_str()
            );
            let schema = t.schema();
            assert_eq!(schema["title"], json!(t.as_str()));
            for field in schema["required"].as_array().into_iter().flatten() {
                let field = field.as_str().unwrap_or_default();
                assert!(
                    schema["properties"].get(field).is_some(),
                    "{}: {field}",
                    t.as_str()
                );
            }
        }
        assert_eq!(NoticeType::parse("order.created"), None);
    }

    #[test]
    fn the_subject_endpoint_is_read_from_notices_only() {
        let payload = json!({"endpoint_id": "42"});
        assert_eq!(
            subject_endpoint("ledger", "ledger.endpoint.disabled", &payload),
            Some(42)
        );
        assert_eq!(
            subject_endpoint("shop", "ledger.endpoint.disabled", &payload),
            None
        );
        assert_eq!(subject_endpoint("ledger", "order.created", &payload), None);
        assert_eq!(
            subject_endpoint("ledger", "ledger.sync_job.failed", &json!({})),
            None
        );
    }
}
