//! How each event changes the rows it touches (in memory; no I/O).

use super::*;

impl Batch {
    /// Folds one event into the rows.
    pub fn apply(&mut self, stored: &StoredEvent, event: &AnyEvent) -> Result<(), HandlerError> {
        match event {
            AnyEvent::Integration(e) => self.integration(stored, e),
            AnyEvent::Delivery(e) => self.delivery(stored, e),
            AnyEvent::Endpoint(e) => self.endpoint(stored, e),
            AnyEvent::Mapping(e) => self.mapping(stored, e),
            AnyEvent::ApiKey(e) => self.api_key(stored, e),
            AnyEvent::SyncJob(e) => self.sync_job(stored, e),
            // Read by the subscription engine, not folded into any table.
            AnyEvent::SubscriptionControl(_) => Ok(()),
        }
    }

    fn integration(
        &mut self,
        stored: &StoredEvent,
        event: &IntegrationEventEvent,
    ) -> Result<(), HandlerError> {
        match event {
            IntegrationEventEvent::EventReceived {
                event_id,
                event_type,
                source_system,
                event_key,
                payload,
                channel,
                received_at,
            } => self.events.put(
                event_id.get(),
                EventRow {
                    id: event_id.get(),
                    event_type: event_type.to_string(),
                    source_system: source_system.to_string(),
                    payload_json: payload.as_value().clone(),
                    status_id: EventStatus::Received.id(),
                    created_at: *received_at,
                    updated_at: *received_at,
                    event_key: event_key.to_string(),
                    channel: channel.as_str().to_owned(),
                    delivery_count: None,
                },
            ),
            IntegrationEventEvent::EventRouted {
                event_id,
                deliveries,
                routed_at,
            } => {
                let row = found(self.events.get_mut(event_id.get()), stored, "event")?;
                row.status_id = EventStatus::Routed.id();
                row.updated_at = later(row.updated_at, *routed_at);
                row.delivery_count = Some(i32::try_from(deliveries.len()).unwrap_or(i32::MAX));
            }
            IntegrationEventEvent::EventUnroutable {
                event_id,
                routed_at,
            } => {
                let row = found(self.events.get_mut(event_id.get()), stored, "event")?;
                row.status_id = EventStatus::Unroutable.id();
                row.updated_at = later(row.updated_at, *routed_at);
                row.delivery_count = Some(0);
            }
        }
        Ok(())
    }

    fn delivery(
        &mut self,
        stored: &StoredEvent,
        event: &DeliveryEvent,
    ) -> Result<(), HandlerError> {
        let key = delivery_id(event);
        if let DeliveryEvent::DeliveryScheduled {
            delivery_id,
            event_id,
            event_received_at,
            endpoint_id,
            mapping_id,
            mapping_version,
            due_at,
            scheduled_at,
            order,
            ..
        } = event
        {
            let row = DeliveryRow {
                id: delivery_id.get(),
                endpoint_id: endpoint_id.get(),
                event_id: event_id.get(),
                status_id: DeliveryStatus::Pending.id(),
                attempts: 0,
                last_attempt_at: None,
                response_code: None,
                event_created_at: *event_received_at,
                mapping_id: Some(mapping_id.get()),
                mapping_version: Some(i32::try_from(*mapping_version).unwrap_or(i32::MAX)),
                next_attempt_at: Some(*due_at),
                last_error: None,
                created_at: *scheduled_at,
                updated_at: *scheduled_at,
                order_key: order.as_ref().map(|o| o.key.clone()),
                order_tx: order.as_ref().map(|o| o.tx),
                order_position: order.as_ref().map(|o| o.position),
                order_blocks: order
                    .as_ref()
                    .map(|o| o.on_dead_letter == domain::ordering::HeadOfLine::Blocks),
            };
            self.retries.insert(key, Some(queued(&row, *due_at)));
            self.touch_event(row.event_id, *scheduled_at);
            self.deliveries.put(key, row);
            return Ok(());
        }
        let row = found(self.deliveries.get_mut(key), stored, "delivery")?;
        let mut retry: Option<Option<RetryRow>> = None;
        let mut dead_letter: Option<DeadLetterRow> = None;
        let mut requeued_at: Option<DateTime<Utc>> = None;
        let mut block: Option<Option<BlockRow>> = None;
        let at = match event {
            DeliveryEvent::DeliveryScheduled { .. } => unreachable_scheduled(stored)?,
            DeliveryEvent::AttemptRecorded {
                attempt,
                outcome,
                attempted_at,
                ..
            } => {
                row.attempts = i32::try_from(*attempt).unwrap_or(i32::MAX);
                row.last_attempt_at = Some(*attempted_at);
                row.response_code = outcome.response_code().map(i32::from);
                row.last_error = outcome.error_summary();
                *attempted_at
            }
            DeliveryEvent::DeliverySucceeded { succeeded_at, .. } => {
                row.status_id = DeliveryStatus::Succeeded.id();
                row.next_attempt_at = None;
                retry = Some(None);
                *succeeded_at
            }
            DeliveryEvent::DeliveryRetryScheduled { next_retry_at, .. } => {
                row.status_id = DeliveryStatus::Retrying.id();
                row.next_attempt_at = Some(*next_retry_at);
                retry = Some(Some(queued(row, *next_retry_at)));
                row.updated_at
            }
            DeliveryEvent::DeliveryDeadLettered {
                dead_letter_id,
                reason,
                dead_lettered_at,
                ..
            } => {
                row.status_id = DeliveryStatus::DeadLettered.id();
                row.next_attempt_at = None;
                retry = Some(None);
                dead_letter = Some(DeadLetterRow {
                    id: dead_letter_id.get(),
                    event_id: row.event_id,
                    reason: reason.to_string(),
                    created_at: *dead_lettered_at,
                    event_created_at: row.event_created_at,
                    delivery_id: row.id,
                    endpoint_id: row.endpoint_id,
                    requeued_at: None,
                });
                if let (Some(true), Some(order_key), Some(order_tx), Some(order_position)) = (
                    row.order_blocks,
                    row.order_key.clone(),
                    row.order_tx,
                    row.order_position,
                ) {
                    block = Some(Some(BlockRow {
                        delivery_id: row.id,
                        endpoint_id: row.endpoint_id,
                        order_key,
                        order_tx,
                        order_position,
                        event_id: row.event_id,
                        blocked_at: *dead_lettered_at,
                    }));
                }
                *dead_lettered_at
            }
            DeliveryEvent::DeliveryHeadSkipped { skipped_at, .. } => {
                block = Some(None);
                *skipped_at
            }
            DeliveryEvent::DeliveryRequeued {
                due_at,
                requeued_at: at,
                ..
            } => {
                row.status_id = DeliveryStatus::Pending.id();
                row.next_attempt_at = Some(*due_at);
                retry = Some(Some(queued(row, *due_at)));
                requeued_at = Some(*at);
                if row.order_key.is_some() {
                    block = Some(None);
                }
                *at
            }
            DeliveryEvent::DeliveryCancelled { cancelled_at, .. } => {
                row.status_id = DeliveryStatus::Cancelled.id();
                row.next_attempt_at = None;
                retry = Some(None);
                *cancelled_at
            }
        };
        row.updated_at = later(row.updated_at, at);
        let event_id = row.event_id;
        if let Some(retry) = retry {
            if retry.is_none() {
                self.retries_dropped.insert(key);
            }
            self.retries.insert(key, retry);
        }
        if let Some(dead) = dead_letter {
            self.dead_letters.put(dead.id, dead);
        }
        if let Some(block) = block {
            self.blocks.insert(key, block);
        }
        if let Some(at) = requeued_at {
            let open: Vec<i64> = self
                .dead_letters
                .values()
                .filter(|d| d.delivery_id == key && d.requeued_at.is_none())
                .map(|d| d.id)
                .collect();
            for dead in open {
                if let Some(row) = self.dead_letters.get_mut(dead) {
                    row.requeued_at = Some(at);
                }
            }
        }
        if !matches!(
            event,
            DeliveryEvent::AttemptRecorded { .. } | DeliveryEvent::DeliveryHeadSkipped { .. }
        ) {
            self.touch_event(event_id, at);
        }
        Ok(())
    }

    fn touch_event(&mut self, event_id: i64, at: DateTime<Utc>) {
        let entry = self.rollups.entry(event_id).or_insert(at);
        *entry = later(*entry, at);
    }

    fn endpoint(
        &mut self,
        stored: &StoredEvent,
        event: &EndpointEvent,
    ) -> Result<(), HandlerError> {
        if let EndpointEvent::EndpointRegistered {
            endpoint_id,
            system_name,
            url,
            secret,
            retry_policy,
            timeout_ms,
            registered_at,
        } = event
        {
            self.endpoints.put(
                endpoint_id.get(),
                EndpointRow {
                    id: endpoint_id.get(),
                    system_name: system_name.to_string(),
                    url: url.to_string(),
                    secret: secret.as_str().to_owned(),
                    status_id: EndpointStatus::Active.id(),
                    created_at: *registered_at,
                    updated_at: *registered_at,
                    previous_secret: None,
                    previous_secret_expires_at: None,
                    disabled_reason: None,
                    retry_schedule_json: policy_json(retry_policy),
                    timeout_ms: i32::try_from(*timeout_ms).unwrap_or(i32::MAX),
                    registered_tx: Some(stored.tx_id),
                    registered_position: Some(stored.position),
                    deleted_tx: None,
                    deleted_position: None,
                    ordering: "none".to_owned(),
                    ordering_key: None,
                    ordering_on_dead_letter: None,
                },
            );
            return Ok(());
        }
        let row = found(
            self.endpoints.get_mut(endpoint_id(event)),
            stored,
            "endpoint",
        )?;
        let at = match event {
            EndpointEvent::EndpointRegistered { registered_at, .. } => *registered_at,
            EndpointEvent::EndpointUrlChanged {
                url, changed_at, ..
            } => {
                row.url = url.to_string();
                *changed_at
            }
            EndpointEvent::EndpointSecretRotated {
                secret,
                previous_secret,
                previous_expires_at,
                rotated_at,
                ..
            } => {
                row.secret = secret.as_str().to_owned();
                row.previous_secret = Some(previous_secret.as_str().to_owned());
                row.previous_secret_expires_at = Some(*previous_expires_at);
                *rotated_at
            }
            EndpointEvent::EndpointRetryPolicyChanged {
                retry_policy,
                changed_at,
                ..
            } => {
                row.retry_schedule_json = policy_json(retry_policy);
                *changed_at
            }
            EndpointEvent::EndpointDisabled {
                reason,
                disabled_at,
                ..
            } => {
                row.status_id = EndpointStatus::Disabled.id();
                row.disabled_reason = Some(reason.as_str().to_owned());
                *disabled_at
            }
            EndpointEvent::EndpointOrderingChanged {
                ordering,
                changed_at,
                ..
            } => {
                row.ordering = ordering.mode().to_owned();
                row.ordering_key = ordering.key_path().map(|k| k.as_str().to_owned());
                row.ordering_on_dead_letter =
                    ordering.on_dead_letter().map(|h| h.as_str().to_owned());
                *changed_at
            }
            EndpointEvent::EndpointEnabled { enabled_at, .. } => {
                row.status_id = EndpointStatus::Active.id();
                row.disabled_reason = None;
                *enabled_at
            }
            EndpointEvent::EndpointDeleted { deleted_at, .. } => {
                row.status_id = EndpointStatus::Deleted.id();
                row.deleted_tx = Some(stored.tx_id);
                row.deleted_position = Some(stored.position);
                *deleted_at
            }
        };
        row.updated_at = later(row.updated_at, at);
        Ok(())
    }

    fn mapping(
        &mut self,
        stored: &StoredEvent,
        event: &EventMappingEvent,
    ) -> Result<(), HandlerError> {
        match event {
            EventMappingEvent::MappingPublished {
                mapping_id,
                event_type,
                target_system,
                version,
                program,
                published_at,
            } => self.mappings.put(
                mapping_id.get(),
                MappingRow {
                    id: mapping_id.get(),
                    event_type: event_type.to_string(),
                    target_system: target_system.to_string(),
                    mapping_json: json!({ "language": "jq", "program": program }),
                    version: version.to_string(),
                    version_number: i32::try_from(*version).unwrap_or(i32::MAX),
                    published_at: *published_at,
                    retired_at: None,
                    published_tx: Some(stored.tx_id),
                    published_position: Some(stored.position),
                    retired_tx: None,
                    retired_position: None,
                },
            ),
            EventMappingEvent::MappingRetired {
                mapping_id,
                retired_at,
                ..
            } => {
                let row = found(self.mappings.get_mut(mapping_id.get()), stored, "mapping")?;
                row.retired_at = Some(*retired_at);
                row.retired_tx = Some(stored.tx_id);
                row.retired_position = Some(stored.position);
            }
        }
        Ok(())
    }

    fn api_key(&mut self, stored: &StoredEvent, event: &ApiKeyEvent) -> Result<(), HandlerError> {
        match event {
            ApiKeyEvent::ApiKeyIssued {
                key_id,
                name,
                permissions,
                rate_limit_per_minute,
                key_hash,
                prefix,
                issued_at,
            } => self.api_keys.put(
                key_id.get(),
                ApiKeyRow {
                    id: key_id.get(),
                    name: name.clone(),
                    key_hash: key_hash.as_str().to_owned(),
                    permissions_json: serde_json::to_value(permissions)
                        .map_err(|e| poison(stored, e.to_string()))?,
                    status_id: ApiKeyStatus::Active.id(),
                    prefix: prefix.clone(),
                    rate_limit_per_minute: rate_limit_per_minute
                        .map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
                    created_at: *issued_at,
                    revoked_at: None,
                },
            ),
            ApiKeyEvent::ApiKeyRevoked {
                key_id, revoked_at, ..
            } => {
                let row = found(self.api_keys.get_mut(key_id.get()), stored, "api key")?;
                row.status_id = ApiKeyStatus::Revoked.id();
                row.revoked_at = Some(*revoked_at);
            }
        }
        Ok(())
    }

    fn sync_job(&mut self, stored: &StoredEvent, event: &SyncJobEvent) -> Result<(), HandlerError> {
        if let SyncJobEvent::SyncJobStarted {
            job_id,
            job_type,
            parameters,
            started_at,
        } = event
        {
            self.sync_jobs.put(
                job_id.get(),
                SyncJobRow {
                    id: job_id.get(),
                    job_type: job_type.to_string(),
                    status_id: JobStatus::Running.id(),
                    started_at: Some(*started_at),
                    finished_at: None,
                    parameters_json: parameters.clone(),
                    progress_done: 0,
                    progress_total: None,
                    error: None,
                    created_at: *started_at,
                    updated_at: *started_at,
                },
            );
            return Ok(());
        }
        let row = found(self.sync_jobs.get_mut(job_id(event)), stored, "sync job")?;
        let at = match event {
            SyncJobEvent::SyncJobStarted { started_at, .. } => *started_at,
            SyncJobEvent::SyncJobProgressed {
                done,
                total,
                reported_at,
                ..
            } => {
                row.progress_done = i64::try_from(*done).unwrap_or(i64::MAX);
                row.progress_total = Some(i64::try_from(*total).unwrap_or(i64::MAX));
                *reported_at
            }
            SyncJobEvent::SyncJobSucceeded { finished_at, .. } => {
                row.status_id = JobStatus::Succeeded.id();
                row.finished_at = Some(*finished_at);
                *finished_at
            }
            SyncJobEvent::SyncJobFailed {
                reason,
                finished_at,
                ..
            } => {
                row.status_id = JobStatus::Failed.id();
                row.error = Some(reason.clone());
                row.finished_at = Some(*finished_at);
                *finished_at
            }
            SyncJobEvent::SyncJobCancelled {
                reason,
                finished_at,
                ..
            } => {
                row.status_id = JobStatus::Cancelled.id();
                row.error = reason.clone();
                row.finished_at = Some(*finished_at);
                *finished_at
            }
        };
        row.updated_at = later(row.updated_at, at);
        Ok(())
    }
}
