//! In which order the changed rows are written: tables in foreign-key order, the
//! event-status roll-up last.

use super::rollup::roll_up;
use super::*;

impl Batch {
    /// Writes every changed row, tables in foreign-key order, then rolls up the
    /// statuses of events whose deliveries changed.
    pub async fn write(mut self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.roll_up_in_memory();
        let conn = &mut **tx;
        upsert(conn, &self.api_keys.changed().collect::<Vec<_>>()).await?;
        upsert(conn, &self.endpoints.changed().collect::<Vec<_>>()).await?;
        upsert(conn, &self.events.changed().collect::<Vec<_>>()).await?;
        upsert(conn, &self.mappings.changed().collect::<Vec<_>>()).await?;
        upsert(conn, &self.deliveries.changed().collect::<Vec<_>>()).await?;
        let deletes: Vec<i64> = self
            .retries
            .iter()
            .filter(|(id, r)| r.is_none() || self.retries_dropped.contains(id))
            .map(|(id, _)| *id)
            .collect();
        let upserts: Vec<&RetryRow> = self.retries.values().flatten().collect();
        crate::queue::delete_folded(conn, &deletes).await?;
        crate::queue::upsert_folded(conn, &upserts).await?;
        upsert(conn, &self.dead_letters.changed().collect::<Vec<_>>()).await?;
        let unblocked: Vec<i64> = self
            .blocks
            .iter()
            .filter(|(_, b)| b.is_none())
            .map(|(id, _)| *id)
            .collect();
        delete_blocks(conn, &unblocked).await?;
        upsert(conn, &self.blocks.values().flatten().collect::<Vec<_>>()).await?;
        upsert(conn, &self.sync_jobs.changed().collect::<Vec<_>>()).await?;
        roll_up(conn, &self.rollups).await
    }
}
