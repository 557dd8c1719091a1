//! The command path: load an aggregate from its stream, let it decide, append what it
//! decided.
//!
//! cqrs-es's `CqrsFramework::execute` returns nothing, but callers need the state a
//! command leaves (an idempotent `Receive` answers with the event that already
//! exists), and a stream written concurrently must be retried, not failed. So this is
//! our own thin loop over cqrs-es's event-sourced `PersistedEventStore` (never its
//! snapshot or aggregate-store modes, which apply events twice), reading through
//! postgres-es and appending through [`GroupCommitRepository`].

use std::collections::HashMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore as _};

use crate::group_commit::GroupCommitRepository;

/// How many times a command is retried when its stream was written concurrently.
const MAX_CONFLICT_RETRIES: usize = 8;

/// What a command did.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// The aggregate's state after the command.
    pub aggregate: A,
    /// The events the command appended (empty when it changed nothing).
    pub events: Vec<EventEnvelope<A>>,
    /// The stream's last sequence after the command (0: the stream is empty).
    pub sequence: usize,
}

/// Why a command did not run.
#[derive(Debug)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command: a broken business rule.
    Rejected(E),
    /// The stream kept being written concurrently.
    Conflict,
    /// The event store failed.
    Store(AggregateError<E>),
}

impl<E: std::error::Error + 'static> std::fmt::Display for CommandError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected(err) => std::fmt::Display::fmt(err, f),
            Self::Conflict => write!(
                f,
                "the stream kept changing under the command ({MAX_CONFLICT_RETRIES} retries)"
            ),
            Self::Store(_) => f.write_str("event store"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CommandError<E> {
    /// The cause. For a store failure, the database's own error inside cqrs-es's
    /// (whose variants name no source), so that callers can tell an unreachable
    /// database from a refusal by walking the chain.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected(err) => err.source(),
            Self::Conflict => None,
            Self::Store(
                AggregateError::DatabaseConnectionError(inner)
                | AggregateError::DeserializationError(inner)
                | AggregateError::UnexpectedError(inner),
            ) => Some(inner.as_ref()),
            Self::Store(other) => Some(other),
        }
    }
}

/// Executes commands of one aggregate type against the event store.
pub struct CommandBus<A: Aggregate> {
    store: PersistedEventStore<GroupCommitRepository, A>,
    services: A::Services,
}

impl<A: Aggregate> std::fmt::Debug for CommandBus<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBus")
            .field("aggregate", &A::TYPE)
            .finish()
    }
}

impl<A> CommandBus<A>
where
    A: Aggregate + Send + Sync,
    A::Command: Clone + Send,
    A::Error: 'static,
{
    /// A bus appending through `repo`, reading old event versions through `upcasters`.
    pub fn new(
        repo: GroupCommitRepository,
        services: A::Services,
        upcasters: Vec<Box<dyn EventUpcaster>>,
    ) -> Self {
        let store = PersistedEventStore::new_event_store(repo).with_upcasters(upcasters);
        Self { store, services }
    }

    /// Runs `command` on the stream `aggregate_id`, retrying from a fresh load when
    /// another writer appended to the stream first.
    ///
    /// A refusal is the aggregate's answer, not a fault: it is logged at debug (the
    /// caller answers with it). A store failure or a stream that kept changing is
    /// logged as an error.
    #[tracing::instrument(skip_all, fields(aggregate = A::TYPE, aggregate_id))]
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        let result = self.try_execute(aggregate_id, command, metadata).await;
        match &result {
            Err(CommandError::Rejected(refused)) => {
                tracing::debug!(%refused, "command refused");
            }
            Err(err) => {
                tracing::error!(error = %crate::report::chain(err), "command failed");
            }
            Ok(_) => {}
        }
        result
    }

    async fn try_execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let mut context = self
                .store
                .load_aggregate(aggregate_id)
                .await
                .map_err(CommandError::Store)?;
            let sink = EventSink::default();
            context
                .aggregate
                .handle(command.clone(), &self.services, &sink)
                .await
                .map_err(CommandError::Rejected)?;
            let events = sink.collect().await;
            let aggregate = std::mem::take(&mut context.aggregate);
            let sequence = context.current_sequence + events.len();
            if events.is_empty() {
                return Ok(Executed {
                    aggregate,
                    events: Vec::new(),
                    sequence,
                });
            }
            match self.store.commit(events, context, metadata.clone()).await {
                Ok(events) => {
                    return Ok(Executed {
                        aggregate,
                        events,
                        sequence,
                    })
                }
                Err(AggregateError::AggregateConflict) => continue,
                Err(err) => return Err(CommandError::Store(err)),
            }
        }
        Err(CommandError::Conflict)
    }

    /// The aggregate's current state and sequence, by replaying its stream.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), AggregateError<A::Error>> {
        let context = self.store.load_aggregate(aggregate_id).await?;
        Ok((context.aggregate, context.current_sequence))
    }

    /// Every event of the stream, in order, upcast to the current versions.
    pub async fn history(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.store.load_events(aggregate_id).await
    }
}
