//! Node ids for [`domain::ids::SnowflakeIds`], leased per process so that two live
//! processes never mint ids with the same node id.
//!
//! A process takes a row of `node_leases` (migration 0009) whose lease is free or has
//! ended, renews it while it runs ([`NodeLease::keep`]) and ends it when it stops. All
//! times are the database's, so the processes' clocks do not matter. A crashed
//! process's id is taken again only after its lease has ended, and the longest free
//! ids are taken first (ids never used, then the one whose lease ended longest ago),
//! so an id that was held a moment ago is the last one handed out again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// How many node ids there are: `0..=domain::ids::MAX_NODE_ID`.
pub const NODE_IDS: usize = domain::ids::MAX_NODE_ID as usize + 1;

/// How long a lease lasts and how often its holder renews it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms {
    /// A lease not renewed for this long ends, and its id may be taken.
    pub ttl: Duration,
    /// How often the holder renews it; well under `ttl`, so that a renewal or two may
    /// fail (a short database outage) before the lease ends.
    pub renew_every: Duration,
}

impl Default for LeaseTerms {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            renew_every: Duration::from_secs(15),
        }
    }
}

/// Why a node id could not be taken or kept.
#[derive(Debug, Error)]
pub enum NodeLeaseError {
    /// Every node id is leased to a live process.
    #[error(
        "all {NODE_IDS} node ids are leased to running processes (table node_leases); \
         stop a process, or wait for the lease of a crashed one to end"
    )]
    AllHeld,
    /// The lease ended while its holder could not renew it, and another process took
    /// the id: this process must stop minting ids with it.
    #[error("node id {node_id} was leased to another process after this one's lease ended")]
    Lost {
        /// The id that was lost.
        node_id: u16,
    },
    /// The database refused or could not be reached.
    #[error("leasing a node id")]
    Database(#[from] sqlx::Error),
}

/// This process's node id, held under a lease in `node_leases`; cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeLease {
    pool: PgPool,
    node_id: u16,
    holder: Arc<str>,
    terms: LeaseTerms,
}

impl NodeLease {
    /// Takes a node id whose lease is free or has ended, for `terms.ttl`.
    ///
    /// Fails with [`NodeLeaseError::AllHeld`] when every id is leased to a live
    /// process. Concurrent starters start from different ids (the `ledger_node_seq`
    /// sequence) and, when two pick the same, one takes it and the other the next.
    pub async fn acquire(pool: &PgPool, terms: LeaseTerms) -> Result<Self, NodeLeaseError> {
        let holder: Arc<str> = holder_name().into();
        let ttl_ms = millis(terms.ttl);
        // Each failed attempt means another process took the id this one chose, so
        // there are at most as many as there are ids.
        for _ in 0..=NODE_IDS {
            let taken: Option<i16> = sqlx::query_scalar!(
                "WITH start AS (SELECT nextval('ledger_node_seq') % 1024 AS first)
                 INSERT INTO node_leases AS lease (node_id, holder, expires_at)
                 SELECT n::smallint, $1, now() + $2::bigint * interval '1 millisecond'
                 FROM generate_series(0, 1023) AS n
                 CROSS JOIN start
                 LEFT JOIN node_leases held ON held.node_id = n
                 WHERE held.node_id IS NULL OR held.expires_at < now()
                 ORDER BY held.expires_at NULLS FIRST, (n - start.first + 1024) % 1024
                 LIMIT 1
                 ON CONFLICT (node_id) DO UPDATE
                 SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE lease.expires_at < now()
                 RETURNING node_id",
                &*holder,
                ttl_ms,
            )
            .fetch_optional(pool)
            .await?;
            if let Some(node_id) = taken {
                let node_id = u16::try_from(node_id).map_err(|_| NodeLeaseError::AllHeld)?;
                tracing::info!(node_id, %holder, "leased a node id");
                return Ok(Self {
                    pool: pool.clone(),
                    node_id,
                    holder,
                    terms,
                });
            }
            let live: i64 = sqlx::query_scalar!(
                r#"SELECT count(*) AS "live!" FROM node_leases WHERE expires_at >= now()"#
            )
            .fetch_one(pool)
            .await?;
            if usize::try_from(live).unwrap_or(0) >= NODE_IDS {
                return Err(NodeLeaseError::AllHeld);
            }
        }
        Err(NodeLeaseError::AllHeld)
    }

    /// The node id this lease holds.
    pub fn node_id(&self) -> u16 {
        self.node_id
    }

    /// Who holds it, as written in `node_leases.holder`: host, process id and a
    /// random token of this lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Extends the lease by its ttl from now. A lease that ended but that no one took
    /// is taken again; one that another process took is [`NodeLeaseError::Lost`].
    pub async fn renew(&self) -> Result<(), NodeLeaseError> {
        let renewed = sqlx::query!(
            "UPDATE node_leases SET expires_at = now() + $3::bigint * interval '1 millisecond'
             WHERE node_id = $1 AND holder = $2",
            i16::try_from(self.node_id).unwrap_or(i16::MAX),
            &*self.holder,
            millis(self.terms.ttl),
        )
        .execute(&self.pool)
        .await?;
        if renewed.rows_affected() == 0 {
            return Err(NodeLeaseError::Lost {
                node_id: self.node_id,
            });
        }
        Ok(())
    }

    /// Ends the lease now (the id may be taken by the next process); a lease that
    /// another process took is left alone. Call it once nothing mints ids with it.
    pub async fn release(&self) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE node_leases SET expires_at = now()
             WHERE node_id = $1 AND holder = $2 AND expires_at > now()",
            i16::try_from(self.node_id).unwrap_or(i16::MAX),
            &*self.holder,
        )
        .execute(&self.pool)
        .await?;
        tracing::info!(node_id = self.node_id, "released the node id");
        Ok(())
    }

    /// Renews the lease every `renew_every` until `stop` is cancelled, then releases
    /// it. A renewal the database cannot answer is tried again at the next one (the
    /// lease is taken again after an outage if no one took it meanwhile); returns
    /// [`NodeLeaseError::Lost`] at once when another process took the id.
    pub async fn keep(&self, stop: CancellationToken) -> Result<(), NodeLeaseError> {
        let mut renewed_at = Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.terms.renew_every) => {}
            }
            match self.renew().await {
                Ok(()) => renewed_at = Instant::now(),
                Err(NodeLeaseError::Database(err)) => {
                    let lapsed = renewed_at.elapsed() >= self.terms.ttl;
                    tracing::warn!(
                        node_id = self.node_id,
                        error = %err,
                        lapsed,
                        "renewing the node id lease failed; trying again"
                    );
                }
                Err(lost) => return Err(lost),
            }
        }
        if let Err(err) = self.release().await {
            tracing::warn!(
                node_id = self.node_id,
                error = %err,
                "releasing the node id failed; its lease ends by itself"
            );
        }
        Ok(())
    }
}

/// `<host> pid <pid> <random>`: names the process for operators, and differs between
/// two starts even when a container reuses the process id.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned());
    format!(
        "{host} pid {} {:016x}",
        std::process::id(),
        rand::random::<u64>()
    )
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
