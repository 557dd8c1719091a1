//! Inbound sources: the systems allowed to push signed webhooks to
//! `POST /v1/inbound/{source_system}`, each with its Standard Webhooks secret,
//! encrypted at rest under the master key (ADR 0006).
//!
//! Secrets live in the operational table `inbound_sources` (migration 0005), written
//! here and nowhere else. A new secret replaces the current one, which stays
//! accepted for [`ROTATION_GRACE`] so that senders can switch without losing
//! messages.

use chrono::{DateTime, Utc};
use domain::cipher::EncryptedSecret;
use domain::secrets::WebhookSecret;
use domain::values::SystemName;
use domain::Actor;
use serde::Serialize;
use sqlx::PgPool;
use store::ledger::Ledger;

use crate::error::ApiError;

/// How long the previous secret stays valid after a new one is set.
pub const ROTATION_GRACE: chrono::Duration = chrono::Duration::hours(24);

/// An inbound source as shown to people: never its secret.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboundSource {
    /// The source system's name (the path segment of its webhook URL).
    pub source_system: String,
    /// When the source was first configured.
    pub created_at: DateTime<Utc>,
    /// When its secret last changed.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last (an API key id, or `system`).
    pub updated_by: String,
    /// Until when the previous secret is still accepted, during a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Sets the secret `source` signs its webhooks with: `secret`, or a freshly
/// generated one when `None`. Returns the new secret, to show once. The previous
/// secret, if any, stays accepted for [`ROTATION_GRACE`].
#[tracing::instrument(skip_all, fields(%source), err)]
pub async fn set_source_secret(
    ledger: &Ledger,
    source: &SystemName,
    secret: Option<WebhookSecret>,
    actor: Actor,
) -> Result<WebhookSecret, ApiError> {
    let services = ledger.services();
    let secret = secret.unwrap_or_else(|| WebhookSecret::generate(&*services.random));
    let encrypted = secret
        .encrypt(&*services.cipher)
        .map_err(ApiError::internal)?;
    let now = services.now();
    sqlx::query!(
        "INSERT INTO inbound_sources (source_system, secret, created_at, updated_at, updated_by) \
         VALUES ($1, $2, $3, $3, $4) \
         ON CONFLICT (source_system) DO UPDATE SET \
             previous_secret = inbound_sources.secret, \
             previous_secret_expires_at = $5, \
             secret = EXCLUDED.secret, \
             updated_at = EXCLUDED.updated_at, \
             updated_by = EXCLUDED.updated_by",
        source.as_str(),
        encrypted.as_str(),
        now,
        actor.to_string(),
        now + ROTATION_GRACE,
    )
    .execute(ledger.pool())
    .await
    .map_err(ApiError::internal)?;
    Ok(secret)
}

/// Removes `source`: its webhooks are refused from now on (`unknown_source`).
/// Returns whether it existed.
pub async fn remove_source(pool: &PgPool, source: &SystemName) -> Result<bool, ApiError> {
    let done = sqlx::query!(
        "DELETE FROM inbound_sources WHERE source_system = $1",
        source.as_str(),
    )
    .execute(pool)
    .await
    .map_err(ApiError::internal)?;
    Ok(done.rows_affected() > 0)
}

/// Every configured source, by name, without secrets.
pub async fn list_sources(pool: &PgPool) -> Result<Vec<InboundSource>, ApiError> {
    sqlx::query_as!(
        InboundSource,
        "SELECT source_system, created_at, updated_at, updated_by, previous_secret_expires_at \
         FROM inbound_sources ORDER BY source_system",
    )
    .fetch_all(pool)
    .await
    .map_err(ApiError::internal)
}

/// The secrets a webhook from `source` may be signed with at `now`: the current
/// one, and the previous one during its grace period. `None`: no such source.
pub async fn source_secrets(
    ledger: &Ledger,
    source: &SystemName,
    now: DateTime<Utc>,
) -> Result<Option<Vec<WebhookSecret>>, ApiError> {
    let row = sqlx::query!(
        "SELECT secret, previous_secret, previous_secret_expires_at \
         FROM inbound_sources WHERE source_system = $1",
        source.as_str(),
    )
    .fetch_optional(ledger.pool())
    .await
    .map_err(ApiError::internal)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (current, previous, expires) = (
        row.secret,
        row.previous_secret,
        row.previous_secret_expires_at,
    );
    let cipher = &*ledger.services().cipher;
    let decrypt = |stored: String| {
        WebhookSecret::decrypt(cipher, &EncryptedSecret::from_stored(stored))
            .map_err(ApiError::internal)
    };
    let mut secrets = vec![decrypt(current)?];
    if let (Some(previous), Some(expires)) = (previous, expires) {
        if now < expires {
            secrets.push(decrypt(previous)?);
        }
    }
    Ok(Some(secrets))
}

/// Notes that `source` sent `webhook_id`, stored as `event_id`: the first time, or
/// once more for a replay (operational record; idempotency itself comes from the
/// event stream `"{source}:{webhook_id}"`).
pub async fn record_webhook_id(
    pool: &PgPool,
    source: &SystemName,
    webhook_id: &str,
    event_id: i64,
) -> Result<(), ApiError> {
    sqlx::query!(
        "INSERT INTO inbound_webhook_ids (source_system, webhook_id, event_id) VALUES ($1, $2, $3) \
         ON CONFLICT (source_system, webhook_id) DO UPDATE SET \
             last_seen_at = now(), times_seen = inbound_webhook_ids.times_seen + 1",
        source.as_str(),
        webhook_id,
        event_id,
    )
    .execute(pool)
    .await
    .map_err(ApiError::internal)?;
    Ok(())
}

/// Forgets webhook ids first seen more than `days` days ago; returns how many.
pub async fn purge_webhook_ids(pool: &PgPool, days: i32) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM inbound_webhook_ids WHERE first_seen_at < now() - make_interval(days => $1)",
        days,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
