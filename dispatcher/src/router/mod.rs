//! The router: a checkpointed subscription that fans every received event out to
//! one delivery per subscribed endpoint (design decisions 4 and 6).
//!
//! For each `EventReceived` in a batch it finds the endpoints and mapping versions
//! the event goes to as of its own place in the log (ADR 0014): for each target
//! system, the mapping version live at that place, to every endpoint of the system
//! registered before it and not deleted before it, disabled ones included (their
//! deliveries wait in the queue). The read models record where in the log each
//! endpoint and mapping version started and stopped counting, so one load serves a
//! whole batch and the answer does not depend on how far behind the router is. It
//! then records the fan-out on the event (`RecordRouting`, new delivery ids; an
//! empty fan-out records the event as unroutable) and sends `Schedule` to each
//! delivery's own stream.
//!
//! # Idempotency and the checkpoint
//!
//! The commands go through the command bus, each in its own transaction, not in the
//! subscription's; the checkpoint is committed after all of them. A crash in between
//! replays the batch, and replaying is harmless: the router finds which of the
//! batch's events are routed in the log already (one query) and schedules the
//! fan-out recorded the first time (`details().deliveries`, the same delivery ids)
//! without asking again (a `RecordRouting` that races another router is refused with
//! `AlreadyRouted`, with the same outcome), and a second `Schedule` of a delivery
//! stream is a no-op. Neither is an error: it is logged at debug level. So running the router twice over the same events
//! creates nothing new, and a fan-out once recorded is never lost.
//!
//! # Ordered endpoints (ADR 0017)
//!
//! A delivery to an ordered endpoint carries its line (the endpoint, and the key
//! for `key` ordering) and its event's place in the log. The claim sends a line's
//! deliveries one at a time in that order, looking only at the queue rows there
//! are, so a line's rows must reach the queue in that order: the projector inserts
//! them in the order their `DeliveryScheduled` commit, so the router schedules an
//! ordered endpoint's deliveries after the concurrent part of the batch, one line's
//! after another's commit, in the batch's order (lines in parallel).
//!
//! The router also restarts an endpoint's circuit-breaker streak
//! (`endpoint_health`, owned by this crate) on `EndpointEnabled`, in the
//! subscription's transaction.

mod lookup;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::delivery::{self, DeliveryCommand};
use domain::integration_event::{IntegrationEventCommand, IntegrationEventEvent, RoutedDelivery};
use domain::ordering::order_subject;
use domain::values::EventType;
use domain::{DeliveryId, EndpointEvent, EventId, IntegrationEvent, IntegrationEventError};
use futures_util::future;
use futures_util::stream::{self, StreamExt as _};
use projections::decode::{poison, AnyEvent, Decoder};
use projections::subscription::{Cursor, Handler, HandlerError, StoredEvent};
use sqlx::{Postgres, Transaction};
use store::commands::CommandError;
use store::ledger::Ledger;

use crate::config::RouterConfig;
use crate::meta;
use crate::report;

use lookup::Orderings;
pub(crate) use lookup::{Route, RouteTable};

/// The router's subscription (checkpoint) name.
pub const ROUTER_NAME: &str = "router";

/// The router's [`Handler`]: run it with `Subscription::new(pool, router, config.subscription)`,
/// or through [`crate::run_router`].
#[derive(Debug)]
pub struct Router {
    ledger: Ledger,
    config: RouterConfig,
    decoder: Decoder,
}

/// One `EventReceived` to route.
#[derive(Debug)]
struct Received {
    /// The event's stream (`IntegrationEvent` aggregate id).
    stream: String,
    /// Its place in the log, to name it in errors and in metadata.
    position: i64,
    cursor: Cursor,
    cause_ref: String,
    metadata: serde_json::Value,
    event_id: EventId,
    event_type: EventType,
    received_at: DateTime<Utc>,
    /// For an operational notice about an endpoint: that endpoint, which never
    /// receives it (ADR 0016).
    subject: Option<i64>,
    /// What an ordered endpoint's key path reads: `{event_type, source_system,
    /// event_key, payload}` (built only for an event going to an ordered endpoint).
    source_system: String,
    event_key: String,
    payload: serde_json::Value,
}

/// A delivery to an ordered endpoint, scheduled after the batch's concurrent part,
/// in its line's order.
#[derive(Debug)]
struct Ordered {
    line: (i64, String),
    stream: String,
    command: DeliveryCommand,
    metadata: std::collections::HashMap<String, String>,
    event: usize,
}

/// Why one event could not be routed.
#[derive(Debug, thiserror::Error)]
enum RouteError {
    /// The aggregate refused the routing for a reason a retry will not change.
    #[error("routing refused: {0}")]
    Refused(String),
    /// The event store failed; the batch is retried.
    #[error("event store")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Router {
    /// A router issuing its commands through `ledger`.
    pub fn new(ledger: Ledger, config: RouterConfig) -> Self {
        Self {
            ledger,
            config,
            decoder: Decoder::default(),
        }
    }

    #[tracing::instrument(skip_all, fields(events = events.len(), received), err)]
    async fn route_batch(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        let mut received = Vec::new();
        let mut enabled = Vec::new();
        for event in events {
            match (event.aggregate_type.as_str(), event.event_type.as_str()) {
                ("IntegrationEvent", "EventReceived") => {
                    received.push(received_of(event, self.decoder.decode(event)?)?)
                }
                ("Endpoint", "EndpointEnabled") => {
                    if let AnyEvent::Endpoint(EndpointEvent::EndpointEnabled {
                        endpoint_id, ..
                    }) = self.decoder.decode(event)?
                    {
                        enabled.push(endpoint_id.get());
                    }
                }
                _ => {}
            }
        }
        tracing::Span::current().record("received", received.len());
        self.route_all(tx, &received).await?;
        if !enabled.is_empty() {
            // The breaker's streak restarts when an endpoint is enabled again. Written
            // last: the first write gives this transaction an id, and while that id is
            // open no subscriber can read past it, so it must not stay open during
            // the routing commands.
            sqlx::query!(
                "DELETE FROM endpoint_health WHERE endpoint_id = ANY($1)",
                &enabled,
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Routes every received event of a batch.
    async fn route_all(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        received: &[Received],
    ) -> Result<(), HandlerError> {
        if received.is_empty() {
            return Ok(());
        }
        let streams: Vec<String> = received.iter().map(|r| r.stream.clone()).collect();
        let routed = lookup::already_routed(tx, &streams).await?;
        // Routed, scheduled and queued by the transaction that received them (the
        // hot path, ADR 0018): nothing is left to do for them.
        let inline = |r: &Received| routed.get(&r.stream) == Some(&r.cursor.tx_id);
        let received: Vec<&Received> = received.iter().filter(|r| !inline(r)).collect();
        let Some(last) = received.last() else {
            return Ok(());
        };
        if let Some(projection) = &self.config.wait_for_projection {
            let caught_up = lookup::wait_for_checkpoint(
                self.ledger.pool(),
                projection,
                last.cursor,
                self.config.projection_wait,
            )
            .await?;
            if !caught_up {
                tracing::info!(
                    projection,
                    "read models are behind the events to route; retrying"
                );
                return Err(HandlerError::Superseded);
            }
        }
        let types: Vec<String> = received
            .iter()
            .map(|r| r.event_type.as_str().to_owned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Each event is routed as of its own place in the log, whatever the read
        // models have applied since (ADR 0014).
        let table = lookup::RouteTable::load(tx, &types, received[0].cursor).await?;
        // Indices, not references, keep the closure free of a higher-ranked lifetime
        // that the `Send` check of `async_trait` cannot prove.
        let results: Vec<_> = stream::iter(0..received.len())
            .map(|i| {
                let event = received[i];
                let mut routes = table.at(event.event_type.as_str(), event.cursor);
                if let Some(subject) = event.subject {
                    routes.retain(|route| route.endpoint_id.get() != subject);
                }
                let replayed = routed.contains_key(&event.stream);
                let orderings = &table.orderings;
                async move {
                    (
                        event,
                        self.route_one(i, event, &routes, replayed, orderings).await,
                    )
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let mut ordered: Vec<Ordered> = Vec::new();
        for (event, result) in results {
            match result {
                Ok(mut later) => ordered.append(&mut later),
                Err(RouteError::Refused(reason)) => {
                    return Err(HandlerError::Poison {
                        position: event.position,
                        event_type: "IntegrationEvent/EventReceived".to_owned(),
                        reason,
                    })
                }
                Err(err @ RouteError::Store(_)) => {
                    tracing::warn!(error = %report(&err), event_id = %event.event_id, "routing failed; the batch is retried");
                    // Nothing was lost: replaying the batch is idempotent (module doc).
                    return Err(HandlerError::Superseded);
                }
            }
        }
        self.schedule_in_line_order(&received, ordered).await
    }

    /// Schedules the deliveries to ordered endpoints: each line's in the order of
    /// their events, one after the other's commit; lines in parallel.
    async fn schedule_in_line_order(
        &self,
        received: &[&Received],
        mut ordered: Vec<Ordered>,
    ) -> Result<(), HandlerError> {
        if ordered.is_empty() {
            return Ok(());
        }
        ordered.sort_by_key(|o| o.event);
        let mut lines: Vec<Vec<Ordered>> = Vec::new();
        let mut index: std::collections::HashMap<(i64, String), usize> = Default::default();
        for o in ordered {
            let at = *index.entry(o.line.clone()).or_insert_with(|| {
                lines.push(Vec::new());
                lines.len() - 1
            });
            lines[at].push(o);
        }
        let results: Vec<Result<(), (usize, CommandError<domain::DeliveryError>)>> =
            stream::iter(lines)
                .map(|line| async move {
                    for o in line {
                        self.ledger
                            .deliveries()
                            .execute(&o.stream, o.command, o.metadata)
                            .await
                            .map_err(|e| (o.event, e))?;
                    }
                    Ok(())
                })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
        for result in results {
            let Err((i, err)) = result else { continue };
            let event = &received[i];
            match err {
                CommandError::Rejected(refused) => {
                    return Err(HandlerError::Poison {
                        position: event.position,
                        event_type: "IntegrationEvent/EventReceived".to_owned(),
                        reason: format!("routing refused: {refused}"),
                    })
                }
                other => {
                    tracing::warn!(error = %report(&other), event_id = %event.event_id, "scheduling an ordered delivery failed; the batch is retried");
                    return Err(HandlerError::Superseded);
                }
            }
        }
        Ok(())
    }

    /// Records the fan-out of one event and schedules its deliveries; how many.
    /// `replayed`: its routing is in the log already (a batch read again after a
    /// crash), so the recorded fan-out is scheduled without asking again.
    #[tracing::instrument(skip_all, fields(event_id = %event.event_id, endpoints = routes.len(), replayed), err)]
    async fn route_one(
        &self,
        index: usize,
        event: &Received,
        routes: &[Route],
        replayed: bool,
        orderings: &Orderings,
    ) -> Result<Vec<Ordered>, RouteError> {
        let request_id = format!("{ROUTER_NAME}:{}", event.position);
        let metadata = meta::caused_by(
            Some(&event.metadata),
            request_id.clone(),
            event.cause_ref.clone(),
        );
        let recorded = if replayed {
            // The documented idempotent path, not a fault: a refused command would be
            // logged as an error by the command bus, once per event of the batch.
            tracing::debug!(event_id = %event.event_id, "routed before; scheduling the recorded fan-out");
            self.recorded(event).await?
        } else {
            let deliveries = fan_out(routes, &*self.ledger.services().ids);
            let command = IntegrationEventCommand::RecordRouting { deliveries };
            match self
                .ledger
                .events()
                .execute(&event.stream, command, metadata.clone())
                .await
            {
                Ok(executed) => executed.aggregate,
                // Routed meanwhile (by a router that lost its lock): the fan-out
                // recorded first is the one to schedule.
                Err(CommandError::Rejected(IntegrationEventError::AlreadyRouted { .. })) => {
                    self.recorded(event).await?
                }
                Err(CommandError::Rejected(refused)) => {
                    return Err(RouteError::Refused(refused.to_string()))
                }
                Err(other) => return Err(RouteError::Store(Box::new(other))),
            }
        };
        let fan_out = recorded
            .details()
            .map(|d| d.deliveries.clone())
            .unwrap_or_default();
        // The deliveries are independent streams: schedule them together (group
        // commit puts them in as few transactions as it can), except those to
        // ordered endpoints, which wait for the batch's order (module doc).
        let mut subject = None;
        let mut ordered = Vec::new();
        let mut unordered = Vec::new();
        for routed in &fan_out {
            let order = orderings
                .get(&routed.endpoint_id.get())
                .and_then(|ordering| {
                    let subject = subject.get_or_insert_with(|| {
                        order_subject(
                            event.event_type.as_str(),
                            &event.source_system,
                            &event.event_key,
                            &event.payload,
                        )
                    });
                    ordering.order_of(subject, event.cursor.tx_id, event.cursor.position)
                });
            match order {
                Some(order) => ordered.push(Ordered {
                    line: (routed.endpoint_id.get(), order.key.clone()),
                    stream: delivery::stream_id(event.event_id, routed.endpoint_id),
                    command: schedule(event, routed, Some(order)),
                    metadata: metadata.clone(),
                    event: index,
                }),
                None => unordered.push(routed),
            }
        }
        let scheduled = future::join_all(unordered.into_iter().map(|routed| {
            let command = schedule(event, routed, None);
            let stream = delivery::stream_id(event.event_id, routed.endpoint_id);
            let metadata = metadata.clone();
            async move {
                self.ledger
                    .deliveries()
                    .execute(&stream, command, metadata)
                    .await
            }
        }))
        .await;
        for result in scheduled {
            match result {
                Ok(_) => {}
                Err(CommandError::Rejected(refused)) => {
                    return Err(RouteError::Refused(refused.to_string()))
                }
                Err(other) => return Err(RouteError::Store(Box::new(other))),
            }
        }
        Ok(ordered)
    }

    /// The event's aggregate as its stream holds it: the fan-out recorded first.
    async fn recorded(&self, event: &Received) -> Result<IntegrationEvent, RouteError> {
        let (aggregate, _) = self
            .ledger
            .events()
            .load(&event.stream)
            .await
            .map_err(|e| RouteError::Store(Box::new(e)))?;
        Ok(aggregate)
    }
}

#[async_trait]
impl Handler for Router {
    fn name(&self) -> &str {
        ROUTER_NAME
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        self.route_batch(tx, events).await
    }
}

/// One new delivery per route, with a new id each: an event's fan-out, as the
/// router and the hot path record it.
pub(crate) fn fan_out(routes: &[Route], ids: &dyn domain::ids::IdGenerator) -> Vec<RoutedDelivery> {
    routes
        .iter()
        .map(|route| RoutedDelivery {
            delivery_id: DeliveryId::generate(ids),
            endpoint_id: route.endpoint_id,
            mapping_id: route.mapping_id,
            mapping_version: route.mapping_version,
        })
        .collect()
}

/// The `Schedule` of one routed delivery of `event`.
fn schedule(
    event: &Received,
    routed: &RoutedDelivery,
    order: Option<domain::ordering::DeliveryOrder>,
) -> DeliveryCommand {
    DeliveryCommand::Schedule {
        delivery_id: routed.delivery_id,
        event_id: event.event_id,
        event_received_at: event.received_at,
        endpoint_id: routed.endpoint_id,
        event_type: event.event_type.clone(),
        mapping_id: routed.mapping_id,
        mapping_version: routed.mapping_version,
        due_at: None,
        order,
    }
}

fn received_of(event: &StoredEvent, decoded: AnyEvent) -> Result<Received, HandlerError> {
    let AnyEvent::Integration(IntegrationEventEvent::EventReceived {
        event_id,
        event_type,
        received_at,
        source_system,
        event_key,
        payload,
        ..
    }) = decoded
    else {
        return Err(poison(event, "not an EventReceived".to_owned()));
    };
    Ok(Received {
        stream: event.aggregate_id.clone(),
        position: event.position,
        cursor: Cursor {
            tx_id: event.tx_id,
            position: event.position,
        },
        cause_ref: meta::event_ref(&event.aggregate_type, &event.aggregate_id, event.sequence),
        metadata: event.metadata.clone(),
        subject: domain::notice::subject_endpoint(
            source_system.as_str(),
            event_type.as_str(),
            payload.as_value(),
        ),
        source_system: source_system.to_string(),
        event_key: event_key.to_string(),
        payload: payload.as_value().clone(),
        event_id,
        event_type,
        received_at,
    })
}
