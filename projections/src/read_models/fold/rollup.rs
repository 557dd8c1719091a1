//! The event-status roll-up, in one place: an event's status follows from its
//! deliveries' (`EventStatus::rollup`), in memory when the batch holds all of them,
//! else from the table.

use super::*;

impl Batch {
    /// Rolls up, here, the status of every touched event whose row and every
    /// delivery the batch holds (the common case): the row is then written once, by
    /// the events' upsert, instead of read back and updated again by [`roll_up`],
    /// which is left the events with deliveries outside the batch.
    pub(super) fn roll_up_in_memory(&mut self) {
        let mut statuses: HashMap<i64, Vec<DeliveryStatus>> = HashMap::new();
        for delivery in self.deliveries.values() {
            if self.rollups.contains_key(&delivery.event_id) {
                statuses
                    .entry(delivery.event_id)
                    .or_default()
                    .extend(DeliveryStatus::from_id(delivery.status_id));
            }
        }
        let events = &mut self.events;
        self.rollups.retain(|event_id, at| {
            let known = statuses.get(event_id).map_or(&[][..], Vec::as_slice);
            let complete = events.get(*event_id).is_some_and(|row| {
                usize::try_from(row.delivery_count.unwrap_or(0)).ok() == Some(known.len())
            });
            if !complete {
                return true;
            }
            if let Some(row) = events.get_mut(*event_id) {
                row.status_id = EventStatus::rollup(known.iter().copied()).id();
                row.updated_at = later(row.updated_at, *at);
            }
            false
        });
    }
}

/// Sets each touched event's status from its deliveries' (missing ones count as
/// pending) and moves its `updated_at` to the latest delivery change.
pub(super) async fn roll_up(
    conn: &mut sqlx::PgConnection,
    rollups: &HashMap<i64, DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    if rollups.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rollups.keys().copied().collect();
    let rows = sqlx::query!(
        r#"SELECT e.id, e.delivery_count, coalesce(array_agg(d.status_id) FILTER (WHERE d.id IS NOT NULL), '{}') AS "statuses!"
           FROM integration_events e LEFT JOIN webhook_deliveries d ON d.event_id = e.id
           WHERE e.id = ANY($1) GROUP BY e.id, e.delivery_count"#,
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let (mut out_ids, mut out_status, mut out_at) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let event_id: i64 = row.id;
        let expected: Option<i32> = row.delivery_count;
        let statuses: Vec<i16> = row.statuses;
        let known = statuses.len();
        let missing = usize::try_from(expected.unwrap_or(0))
            .unwrap_or(0)
            .saturating_sub(known);
        let all = statuses
            .into_iter()
            .filter_map(DeliveryStatus::from_id)
            .chain(std::iter::repeat_n(DeliveryStatus::Pending, missing));
        let status = EventStatus::rollup(all);
        out_ids.push(event_id);
        out_status.push(status.id());
        out_at.push(rollups.get(&event_id).copied());
    }
    // `out_at` is cast to its own type: the macro's check only knows arrays without
    // nulls (`&[DateTime<Utc>]`), and the cast, which names the type, skips it.
    sqlx::query!(
        "UPDATE integration_events e SET status_id = s.status_id, updated_at = greatest(e.updated_at, s.at) \
         FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[]) AS s(id, status_id, at) \
         WHERE e.id = s.id",
        &out_ids,
        &out_status,
        &out_at as &[Option<DateTime<Utc>>],
    )
    .execute(conn)
    .await?;
    Ok(())
}
