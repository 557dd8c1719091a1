//! Command metadata, stored by cqrs-es on every event a command produces.
//!
//! Pass `metadata.into_map()` to `CqrsFramework::execute_with_metadata`; read it
//! back from an `EventEnvelope` with [`CommandMetadata::from_map`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::ids::ApiKeyId;

/// Metadata key for [`CommandMetadata::actor`].
pub const ACTOR: &str = "actor";
/// Metadata key for [`CommandMetadata::request_id`].
pub const REQUEST_ID: &str = "request_id";
/// Metadata key for [`CommandMetadata::correlation_id`].
pub const CORRELATION_ID: &str = "correlation_id";
/// Metadata key for [`CommandMetadata::causation_id`].
pub const CAUSATION_ID: &str = "causation_id";

/// Who issued a command: an API key, or the system itself (router, dispatcher,
/// circuit breaker, jobs). Written as the key id in decimal, or `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The service acting on its own.
    System,
    /// A client authenticated with this API key.
    ApiKey(ApiKeyId),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::ApiKey(id) => write!(f, "{id}"),
        }
    }
}

impl FromStr for Actor {
    type Err = MetadataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "system" {
            return Ok(Actor::System);
        }
        s.parse()
            .map(Actor::ApiKey)
            .map_err(|_| MetadataError::BadActor(s.chars().take(40).collect()))
    }
}

/// Metadata could not be read back from an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// A required key is absent.
    #[error("event metadata lacks {0}")]
    Missing(&'static str),
    /// The actor is neither `system` nor an API key id.
    #[error("event metadata has a malformed actor {0:?}")]
    BadActor(String),
}

/// The metadata every command carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    /// Who issued the command.
    pub actor: Actor,
    /// Id of the request that carried the command (HTTP request id, or a
    /// subscriber's own id for the event it is processing).
    pub request_id: String,
    /// Id shared by everything one outside request set in motion.
    pub correlation_id: String,
    /// Id of the immediate cause: the request, or the event
    /// (`"{aggregate_type}:{aggregate_id}:{sequence}"`) a subscriber reacted to.
    pub causation_id: String,
}

impl CommandMetadata {
    /// Metadata for a command caused directly by request `request_id`: correlation
    /// and causation are the request id.
    pub fn for_request(actor: Actor, request_id: impl Into<String>) -> Self {
        let request_id = request_id.into();
        Self {
            actor,
            correlation_id: request_id.clone(),
            causation_id: request_id.clone(),
            request_id,
        }
    }

    /// Metadata for a command the system issues in reaction to an event whose own
    /// metadata is `cause` and whose identity is `event_ref`: the correlation id is
    /// carried over, the causation id becomes the event.
    pub fn caused_by(
        cause: &CommandMetadata,
        request_id: impl Into<String>,
        event_ref: impl Into<String>,
    ) -> Self {
        Self {
            actor: Actor::System,
            request_id: request_id.into(),
            correlation_id: cause.correlation_id.clone(),
            causation_id: event_ref.into(),
        }
    }

    /// The map cqrs-es stores with each event.
    pub fn into_map(self) -> HashMap<String, String> {
        HashMap::from([
            (ACTOR.to_owned(), self.actor.to_string()),
            (REQUEST_ID.to_owned(), self.request_id),
            (CORRELATION_ID.to_owned(), self.correlation_id),
            (CAUSATION_ID.to_owned(), self.causation_id),
        ])
    }

    /// Reads the metadata back from an event's map.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, MetadataError> {
        let get = |key: &'static str| map.get(key).cloned().ok_or(MetadataError::Missing(key));
        Ok(Self {
            actor: get(ACTOR)?.parse()?,
            request_id: get(REQUEST_ID)?,
            correlation_id: get(CORRELATION_ID)?,
            causation_id: get(CAUSATION_ID)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_the_map() {
        let m = CommandMetadata::for_request(Actor::ApiKey(ApiKeyId::new(12)), "req-1");
        let map = m.clone().into_map();
        assert_eq!(map["actor"], "12");
        assert_eq!(map["causation_id"], "req-1");
        assert_eq!(CommandMetadata::from_map(&map), Ok(m.clone()));

        let follow = CommandMetadata::caused_by(&m, "router-7", "IntegrationEvent:erp:k:1");
        assert_eq!(follow.actor, Actor::System);
        assert_eq!(follow.correlation_id, "req-1");
        let map = follow.clone().into_map();
        assert_eq!(map["actor"], "system");
        assert_eq!(CommandMetadata::from_map(&map), Ok(follow));
    }

    #[test]
    fn malformed_metadata_is_reported() {
        let mut map = CommandMetadata::for_request(Actor::System, "r").into_map();
        map.insert(ACTOR.to_owned(), "bob".to_owned());
        assert!(matches!(
            CommandMetadata::from_map(&map),
            Err(MetadataError::BadActor(_))
        ));
        map.insert(ACTOR.to_owned(), "system".to_owned());
        map.remove(REQUEST_ID);
        assert_eq!(
            CommandMetadata::from_map(&map),
            Err(MetadataError::Missing("request_id"))
        );
    }
}
