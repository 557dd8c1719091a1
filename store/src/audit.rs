//! Proof that the event log is unaltered.
//!
//! The database computes each event's `hash` on insert (migration 0001): SHA-256 over
//! the previous hash of the same stream (32 zero bytes for the first event) and the
//! row's content, each field written as `<byte length>:<text>`. This module
//! recomputes the same chain in Rust, so a row altered behind the trigger's back
//! (a superuser disabling it) is found, with the first broken stream and sequence.
//! An event deleted from the end of a stream leaves no trace in the chain; one
//! deleted from the middle breaks the link of the event after it.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The hash a stream's first event is chained to.
pub const GENESIS: [u8; 32] = [0; 32];

/// One row of the log, as the hash covers it.
#[derive(Debug, Clone)]
pub struct HashedEvent {
    /// The aggregate type (`Endpoint`, `Delivery`, …).
    pub aggregate_type: String,
    /// The stream's id within its aggregate type.
    pub aggregate_id: String,
    /// The event's sequence in its stream.
    pub sequence: i64,
    /// The domain event's type.
    pub event_type: String,
    /// The domain event's version.
    pub event_version: String,
    /// The payload's JSON text, exactly as stored.
    pub payload: String,
    /// The metadata's JSON text, exactly as stored.
    pub metadata: String,
    /// The hash the database stored.
    pub hash: Vec<u8>,
}

impl HashedEvent {
    /// The hash this row must carry when chained to `previous`.
    pub fn expected_hash(&self, previous: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        let sequence = self.sequence.to_string();
        for field in [
            self.aggregate_type.as_str(),
            self.aggregate_id.as_str(),
            sequence.as_str(),
            self.event_type.as_str(),
            self.event_version.as_str(),
            self.payload.as_str(),
            self.metadata.as_str(),
        ] {
            hasher.update(field.len().to_string().as_bytes());
            hasher.update(b":");
            hasher.update(field.as_bytes());
        }
        hasher.finalize().into()
    }
}

/// The first link of a chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// The stream's id.
    pub aggregate_id: String,
    /// The sequence of the first event whose stored hash does not match.
    pub sequence: i64,
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Streams walked.
    pub streams: u64,
    /// Events whose hash was recomputed.
    pub events: u64,
    /// The first broken link, in (aggregate type, aggregate id, sequence) order.
    pub first_break: Option<BrokenLink>,
}

/// Walks every stream of the log and recomputes its chain; stops at the first break.
#[tracing::instrument(skip_all, err)]
pub async fn verify_all(pool: &PgPool) -> Result<VerifyReport, sqlx::Error> {
    verify_all_reporting(pool, |_| {}).await
}

/// Events verified between two calls of `verify_all_reporting`'s `progress`.
pub const PROGRESS_EVERY: u64 = 1000;

/// [`verify_all`], calling `progress` with the report so far every
/// [`PROGRESS_EVERY`] events (and not at the end: the result is the last report).
pub async fn verify_all_reporting(
    pool: &PgPool,
    mut progress: impl FnMut(&VerifyReport),
) -> Result<VerifyReport, sqlx::Error> {
    use futures_util::TryStreamExt as _;
    let mut rows = sqlx::query_as!(
        HashedEvent,
        r#"SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                  payload::text AS "payload!", metadata::text AS "metadata!", hash
           FROM events ORDER BY aggregate_type, aggregate_id, sequence"#
    )
    .fetch(pool);
    let mut walker = ChainWalker::default();
    while let Some(event) = rows.try_next().await? {
        if !walker.push(event) {
            break;
        }
        if walker.report.events % PROGRESS_EVERY == 0 {
            progress(&walker.report);
        }
    }
    Ok(walker.report)
}

/// About how many events the log holds (the planner's estimate, or an exact count
/// when the table has never been analysed): a progress bar's total, read in
/// constant time.
pub async fn estimated_events(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let estimate: Option<f32> =
        sqlx::query_scalar!("SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass")
            .fetch_optional(pool)
            .await?;
    match estimate {
        Some(n) if n >= 0.0 => Ok(n as u64),
        _ => {
            let n: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM events"#)
                .fetch_one(pool)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        }
    }
}

/// Recomputes the chain of one stream.
pub async fn verify_stream(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<VerifyReport, sqlx::Error> {
    let events = sqlx::query_as!(
        HashedEvent,
        r#"SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                  payload::text AS "payload!", metadata::text AS "metadata!", hash
           FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"#,
        aggregate_type,
        aggregate_id,
    )
    .fetch_all(pool)
    .await?;
    let mut walker = ChainWalker::default();
    for event in events {
        if !walker.push(event) {
            break;
        }
    }
    Ok(walker.report)
}

/// Follows rows in stream order and checks each link.
#[derive(Debug, Default)]
struct ChainWalker {
    report: VerifyReport,
    stream: Option<(String, String)>,
    previous: Vec<u8>,
}

impl ChainWalker {
    /// Checks one row; false once a break is found.
    fn push(&mut self, event: HashedEvent) -> bool {
        let same_stream = self
            .stream
            .as_ref()
            .is_some_and(|(t, id)| *t == event.aggregate_type && *id == event.aggregate_id);
        if !same_stream {
            self.report.streams += 1;
            self.previous = GENESIS.to_vec();
            self.stream = Some((event.aggregate_type.clone(), event.aggregate_id.clone()));
        }
        self.report.events += 1;
        let expected = event.expected_hash(&self.previous);
        if expected.as_slice() != event.hash.as_slice() {
            self.report.first_break = Some(BrokenLink {
                aggregate_type: event.aggregate_type,
                aggregate_id: event.aggregate_id,
                sequence: event.sequence,
            });
            return false;
        }
        self.previous = event.hash;
        true
    }
}
