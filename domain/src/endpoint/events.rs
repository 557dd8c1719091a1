//! Events of the `Endpoint` aggregate.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::cipher::EncryptedSecret;
use crate::ids::EndpointId;
use crate::ordering::Ordering;
use crate::retry::RetryPolicy;
use crate::values::{EndpointUrl, SystemName};

/// Current version of `EndpointRegistered` (1.0 lacked `timeout_ms`; see
/// [`crate::upcasting`]).
pub const ENDPOINT_REGISTERED_VERSION: &str = "1.1";

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisableReason {
    /// An operator disabled it.
    Manual,
    /// It kept failing ([`crate::circuit`]).
    CircuitBreaker,
    /// It answered 410 Gone.
    Gone,
}

impl DisableReason {
    /// The `webhook_endpoints.disabled_reason` value: `manual`, `circuit_breaker`, `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Manual => "manual",
            DisableReason::CircuitBreaker => "circuit_breaker",
            DisableReason::Gone => "gone",
        }
    }
}

/// Events of [`super::Endpoint`]. Secrets appear only encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndpointEvent {
    /// An endpoint was registered (version 1.1).
    EndpointRegistered {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The target system it belongs to (matched against `target_system`).
        system_name: SystemName,
        /// Where webhooks go.
        url: EndpointUrl,
        /// Its signing secret, encrypted.
        secret: EncryptedSecret,
        /// Its retry schedule, when it overrides the default.
        retry_policy: Option<RetryPolicy>,
        /// HTTP timeout per attempt, in milliseconds (added in 1.1; 1.0 events read
        /// as [`super::DEFAULT_TIMEOUT_MS`]).
        timeout_ms: u32,
        /// When it was registered.
        registered_at: DateTime<Utc>,
    },
    /// The endpoint's URL changed.
    EndpointUrlChanged {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The new URL.
        url: EndpointUrl,
        /// When it changed.
        changed_at: DateTime<Utc>,
    },
    /// A new signing secret; the previous one keeps signing until
    /// `previous_expires_at`.
    EndpointSecretRotated {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The new secret, encrypted.
        secret: EncryptedSecret,
        /// The secret it replaces, encrypted.
        previous_secret: EncryptedSecret,
        /// When the previous secret stops signing.
        previous_expires_at: DateTime<Utc>,
        /// When it was rotated.
        rotated_at: DateTime<Utc>,
    },
    /// The endpoint's retry schedule override changed (`None`: back to the default).
    EndpointRetryPolicyChanged {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The new override.
        retry_policy: Option<RetryPolicy>,
        /// When it changed.
        changed_at: DateTime<Utc>,
    },
    /// The endpoint stopped receiving deliveries; they wait.
    EndpointDisabled {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// Why.
        reason: DisableReason,
        /// When.
        disabled_at: DateTime<Utc>,
    },
    /// The endpoint receives deliveries again (its failure streak restarts).
    EndpointEnabled {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// When.
        enabled_at: DateTime<Utc>,
    },
    /// How the endpoint's deliveries are ordered changed (also written right after
    /// `EndpointRegistered` when it is registered with an ordering); it applies to
    /// deliveries scheduled after it (ADR 0017).
    EndpointOrderingChanged {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// The new ordering.
        ordering: Ordering,
        /// When it changed.
        changed_at: DateTime<Utc>,
    },
    /// The endpoint is gone for good.
    EndpointDeleted {
        /// The endpoint.
        endpoint_id: EndpointId,
        /// When.
        deleted_at: DateTime<Utc>,
    },
}

impl DomainEvent for EndpointEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EndpointRegistered { .. } => "EndpointRegistered",
            Self::EndpointUrlChanged { .. } => "EndpointUrlChanged",
            Self::EndpointSecretRotated { .. } => "EndpointSecretRotated",
            Self::EndpointRetryPolicyChanged { .. } => "EndpointRetryPolicyChanged",
            Self::EndpointDisabled { .. } => "EndpointDisabled",
            Self::EndpointEnabled { .. } => "EndpointEnabled",
            Self::EndpointOrderingChanged { .. } => "EndpointOrderingChanged",
            Self::EndpointDeleted { .. } => "EndpointDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::EndpointRegistered { .. } => ENDPOINT_REGISTERED_VERSION,
            _ => "1.0",
        }
        .to_owned()
    }
}
