//! Typed 64-bit ids and the generators that make them.
//!
//! The seed tables use `bigint` ids, so every id is an `i64`. Ids are generated in
//! the command path (by the caller or inside `handle` through [`crate::Services`])
//! and carried in the events, so a projection rebuilt from history produces exactly
//! the ids the live one did.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::services::Clock;

/// A string is not a valid id (ids are positive decimal `i64`s).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} must be a positive 64-bit integer, got {input:?}")]
pub struct IdParseError {
    /// Which id type was being parsed, e.g. `EndpointId`.
    pub kind: &'static str,
    /// The rejected input (cut to 40 characters).
    pub input: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw value, e.g. one read back from a `bigint` column.
            pub const fn new(value: i64) -> Self {
                Self(value)
            }

            /// The raw value, for a `bigint` column.
            pub const fn get(self) -> i64 {
                self.0
            }

            /// Draws a fresh id from `ids`.
            pub fn generate(ids: &dyn IdGenerator) -> Self {
                Self(ids.next_id())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.parse::<i64>() {
                    Ok(v) if v > 0 && !s.starts_with('+') => Ok(Self(v)),
                    _ => Err(IdParseError {
                        kind: stringify!($name),
                        input: s.chars().take(40).collect(),
                    }),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type!(
    /// Id of an integration event (`integration_events.id`).
    EventId
);
id_type!(
    /// Id of a delivery (`webhook_deliveries.id`).
    DeliveryId
);
id_type!(
    /// Id of a webhook endpoint (`webhook_endpoints.id`).
    EndpointId
);
id_type!(
    /// Id of one published mapping version (`event_mappings.id`).
    MappingId
);
id_type!(
    /// Id of one dead-lettering of a delivery (`dead_letter.id`); a delivery that is
    /// requeued and fails again gets a new one.
    DeadLetterId
);
id_type!(
    /// Id of an API key (`api_keys.id`).
    ApiKeyId
);
id_type!(
    /// Id of a sync job (`sync_jobs.id`).
    SyncJobId
);

/// Source of fresh, unique, positive 64-bit ids.
pub trait IdGenerator: Send + Sync + fmt::Debug {
    /// Returns an id never returned before by this generator (and, for a
    /// correctly configured node id, by any other).
    fn next_id(&self) -> i64;
}

/// Custom epoch of [`SnowflakeIds`]: 2024-01-01T00:00:00Z, in Unix milliseconds.
pub const SNOWFLAKE_EPOCH_MS: i64 = 1_704_067_200_000;
/// Bits of a snowflake id that hold the node id.
pub const SNOWFLAKE_NODE_BITS: u32 = 10;
/// Bits of a snowflake id that hold the per-millisecond sequence.
pub const SNOWFLAKE_SEQUENCE_BITS: u32 = 12;
/// Largest node id a [`SnowflakeIds`] accepts.
pub const MAX_NODE_ID: u16 = (1 << SNOWFLAKE_NODE_BITS) - 1;
const MAX_SEQUENCE: i64 = (1 << SNOWFLAKE_SEQUENCE_BITS) - 1;
const MAX_TIME: i64 = (1 << (63 - SNOWFLAKE_NODE_BITS - SNOWFLAKE_SEQUENCE_BITS)) - 1;

/// The node id given to [`SnowflakeIds::new`] is larger than [`MAX_NODE_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("node id {0} is out of range 0..={MAX_NODE_ID}")]
pub struct NodeIdOutOfRange(pub u16);

/// Time-ordered ids: `[0][41 bits ms since 2024-01-01][10 bits node][12 bits sequence]`.
///
/// Always positive and strictly increasing per generator, also when the clock
/// steps back (the generator keeps its own last millisecond) or more than 4096 ids
/// are drawn in one millisecond (it borrows the next millisecond rather than
/// sleeping). Processes sharing one database must use distinct node ids.
#[derive(Debug)]
pub struct SnowflakeIds {
    node: i64,
    clock: Arc<dyn Clock>,
    state: Mutex<(i64, i64)>,
}

impl SnowflakeIds {
    /// A generator for node `node` (0..=1023) reading time from `clock`.
    pub fn new(node: u16, clock: Arc<dyn Clock>) -> Result<Self, NodeIdOutOfRange> {
        if node > MAX_NODE_ID {
            return Err(NodeIdOutOfRange(node));
        }
        Ok(Self {
            node: i64::from(node),
            clock,
            state: Mutex::new((-1, 0)),
        })
    }

    /// The instant encoded in a snowflake id (millisecond precision).
    pub fn timestamp_of(id: i64) -> Option<DateTime<Utc>> {
        let ms = (id >> (SNOWFLAKE_NODE_BITS + SNOWFLAKE_SEQUENCE_BITS)) + SNOWFLAKE_EPOCH_MS;
        Utc.timestamp_millis_opt(ms).single()
    }
}

impl IdGenerator for SnowflakeIds {
    fn next_id(&self) -> i64 {
        let now = (self.clock.now().timestamp_millis() - SNOWFLAKE_EPOCH_MS).clamp(0, MAX_TIME);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, seq) = *state;
        let (ms, seq) = if now > last {
            (now, 0)
        } else if seq < MAX_SEQUENCE {
            (last, seq + 1)
        } else {
            (last + 1, 0)
        };
        *state = (ms, seq);
        (ms.min(MAX_TIME) << (SNOWFLAKE_NODE_BITS + SNOWFLAKE_SEQUENCE_BITS))
            | (self.node << SNOWFLAKE_SEQUENCE_BITS)
            | seq
    }
}

/// Test double: 1, 2, 3, ... (or from any start). Deterministic and thread-safe.
#[derive(Debug)]
pub struct SequentialIds {
    next: AtomicI64,
}

impl SequentialIds {
    /// Starts at `first`.
    pub fn starting_at(first: i64) -> Self {
        Self {
            next: AtomicI64::new(first),
        }
    }
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl IdGenerator for SequentialIds {
    fn next_id(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::FixedClock;

    #[test]
    fn ids_parse_display_and_serialize_as_plain_numbers() {
        let id: EndpointId = "42".parse().expect("valid");
        assert_eq!(id, EndpointId::new(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).expect("json"), "42");
        assert_eq!(serde_json::from_str::<EndpointId>("42").expect("json"), id);
        for bad in ["0", "-1", "+1", "x", "", "99999999999999999999"] {
            assert!(bad.parse::<EndpointId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn snowflake_ids_are_positive_and_strictly_increasing() {
        let clock = Arc::new(FixedClock::at_rfc3339("2025-06-01T00:00:00Z"));
        let ids = SnowflakeIds::new(7, clock.clone()).expect("node");
        let mut last = 0;
        // More than one millisecond's worth of sequence with a frozen clock.
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert!(id > last, "{id} <= {last}");
            last = id;
        }
        // The clock stepping back does not make ids go back.
        clock.advance(chrono::Duration::milliseconds(-5_000));
        assert!(ids.next_id() > last);
        let first = SnowflakeIds::new(7, clock.clone()).expect("node").next_id();
        assert_eq!(
            SnowflakeIds::timestamp_of(first),
            Some(clock.now()),
            "the id encodes its creation time"
        );
        assert_eq!(
            (first >> SNOWFLAKE_SEQUENCE_BITS) & i64::from(MAX_NODE_ID),
            7
        );
    }

    #[test]
    fn snowflake_rejects_out_of_range_node_ids() {
        let clock = Arc::new(FixedClock::at_rfc3339("2025-06-01T00:00:00Z"));
        assert!(SnowflakeIds::new(1024, clock).is_err());
    }

    #[test]
    fn snowflake_ids_are_unique_across_threads() {
        let clock = Arc::new(crate::services::SystemClock);
        let ids = Arc::new(SnowflakeIds::new(1, clock).expect("node"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || (0..2_000).map(|_| ids.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|id| *id > 0));
    }

    #[test]
    fn sequential_ids_count_up() {
        let ids = SequentialIds::starting_at(10);
        assert_eq!(EventId::generate(&ids), EventId::new(10));
        assert_eq!(DeliveryId::generate(&ids), DeliveryId::new(11));
    }
}
