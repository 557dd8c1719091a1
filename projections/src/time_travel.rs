//! An aggregate's state at any past instant or sequence, by replaying its stream up to
//! that point (used by GraphQL's `stateAt`).

use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use sqlx::PgPool;

/// Up to where a stream is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Every event recorded at or before this instant.
    Instant(DateTime<Utc>),
    /// Every event up to and including this sequence.
    Sequence(i64),
}

/// Why a past state could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum TimeTravelError {
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// A stored event does not decode as this aggregate's event.
    #[error("event {sequence} of {aggregate_id} does not decode: {reason}")]
    Decode {
        /// The stream.
        aggregate_id: String,
        /// The event's sequence.
        sequence: i64,
        /// The decoder's message.
        reason: String,
    },
}

/// A past state: the aggregate, and the last sequence applied (0: none yet).
#[derive(Debug)]
pub struct PastState<A> {
    /// The state.
    pub aggregate: A,
    /// The last applied sequence.
    pub sequence: i64,
    /// When that event was recorded.
    pub recorded_at: Option<DateTime<Utc>>,
}

/// Replays stream `aggregate_id` of `A` up to `as_of`, reading old event versions
/// through `upcasters`.
pub async fn state_at<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    as_of: AsOf,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<PastState<A>, TimeTravelError> {
    let (instant, sequence) = match as_of {
        AsOf::Instant(at) => (Some(at), None),
        AsOf::Sequence(n) => (None, Some(n)),
    };
    // `payload` is a cast of a not-null column, so not null either.
    let rows = sqlx::query!(
        r#"SELECT sequence, event_type, event_version, payload::jsonb AS "payload!", recorded_at
           FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
             AND ($3::timestamptz IS NULL OR recorded_at <= $3)
             AND ($4::bigint IS NULL OR sequence <= $4)
           ORDER BY sequence"#,
        A::TYPE,
        aggregate_id,
        instant,
        sequence,
    )
    .fetch_all(pool)
    .await?;
    let mut state = PastState {
        aggregate: A::default(),
        sequence: 0,
        recorded_at: None,
    };
    for row in rows {
        let sequence: i64 = row.sequence;
        let mut event = SerializedEvent {
            aggregate_id: aggregate_id.to_owned(),
            sequence: usize::try_from(sequence).unwrap_or_default(),
            aggregate_type: A::TYPE.to_owned(),
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: serde_json::Value::Null,
        };
        for upcaster in upcasters {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                event = upcaster.upcast(event);
            }
        }
        let decoded: A::Event =
            serde_json::from_value(event.payload).map_err(|err| TimeTravelError::Decode {
                aggregate_id: aggregate_id.to_owned(),
                sequence,
                reason: err.to_string(),
            })?;
        state.aggregate.apply(decoded);
        state.sequence = sequence;
        state.recorded_at = Some(row.recorded_at);
    }
    Ok(state)
}
