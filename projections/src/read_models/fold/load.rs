//! What a batch must load: the existing rows its events update, one query per table.

use super::*;

impl Batch {
    /// Loads every existing row the events update.
    pub async fn load(
        tx: &mut Transaction<'_, Postgres>,
        events: &[(&StoredEvent, AnyEvent)],
    ) -> Result<Self, sqlx::Error> {
        let mut needs = Needs::default();
        // Rows the batch itself creates before updating them need no loading (the
        // events are folded in log order, creation first): an event received and
        // routed in one transaction (the hot path, ADR 0018) loads nothing.
        let mut created_events = std::collections::HashSet::new();
        let mut created_deliveries = std::collections::HashSet::new();
        for (_, event) in events {
            match event {
                AnyEvent::Integration(IntegrationEventEvent::EventReceived {
                    event_id, ..
                }) => {
                    created_events.insert(event_id.get());
                }
                AnyEvent::Delivery(DeliveryEvent::DeliveryScheduled { delivery_id, .. }) => {
                    created_deliveries.insert(delivery_id.get());
                }
                _ => {}
            }
        }
        for (_, event) in events {
            match event {
                AnyEvent::Integration(e) => match e {
                    IntegrationEventEvent::EventReceived { .. } => {}
                    IntegrationEventEvent::EventRouted { event_id, .. }
                    | IntegrationEventEvent::EventUnroutable { event_id, .. } => {
                        needs.events.push(event_id.get())
                    }
                },
                AnyEvent::Delivery(e) => {
                    if let DeliveryEvent::DeliveryScheduled { event_id, .. } = e {
                        // Its event's status is rolled up in memory when it can be.
                        needs.events.push(event_id.get());
                    } else {
                        needs.deliveries.push(delivery_id(e));
                    }
                    if matches!(e, DeliveryEvent::DeliveryRequeued { .. }) {
                        needs.dead_letters_by_delivery.push(delivery_id(e));
                    }
                }
                AnyEvent::Endpoint(e) => {
                    if !matches!(e, EndpointEvent::EndpointRegistered { .. }) {
                        needs.endpoints.push(endpoint_id(e));
                    }
                }
                AnyEvent::Mapping(EventMappingEvent::MappingRetired { mapping_id, .. }) => {
                    needs.mappings.push(mapping_id.get())
                }
                AnyEvent::Mapping(_) => {}
                AnyEvent::ApiKey(ApiKeyEvent::ApiKeyRevoked { key_id, .. }) => {
                    needs.api_keys.push(key_id.get())
                }
                AnyEvent::ApiKey(_) => {}
                AnyEvent::SyncJob(SyncJobEvent::SyncJobStarted { .. }) => {}
                AnyEvent::SyncJob(e) => needs.sync_jobs.push(job_id(e)),
                AnyEvent::SubscriptionControl(_) => {}
            }
        }
        needs
            .deliveries
            .retain(|id| !created_deliveries.contains(id));
        let mut batch = Self::default();
        let conn = &mut **tx;
        batch.api_keys.extend(
            load::<ApiKeyRow>(conn, "id", &needs.api_keys)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        batch.endpoints.extend(
            load::<EndpointRow>(conn, "id", &needs.endpoints)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        batch.mappings.extend(
            load::<MappingRow>(conn, "id", &needs.mappings)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        batch.deliveries.extend(
            load::<DeliveryRow>(conn, "id", &needs.deliveries)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        // The events of the deliveries too: their status is rolled up in memory when
        // the batch holds all of their deliveries (see `roll_up_in_memory`).
        needs
            .events
            .extend(batch.deliveries.values().map(|d| d.event_id));
        needs.events.retain(|id| !created_events.contains(id));
        needs.events.sort_unstable();
        needs.events.dedup();
        batch.events.extend(
            load::<EventRow>(conn, "id", &needs.events)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        let open_dead_letters =
            load::<DeadLetterRow>(conn, "delivery_id", &needs.dead_letters_by_delivery).await?;
        batch.dead_letters.extend(
            open_dead_letters
                .into_iter()
                .filter(|r| r.requeued_at.is_none())
                .map(|r| (r.id, r)),
        );
        batch.sync_jobs.extend(
            load::<SyncJobRow>(conn, "id", &needs.sync_jobs)
                .await?
                .into_iter()
                .map(|r| (r.id, r)),
        );
        Ok(batch)
    }
}
