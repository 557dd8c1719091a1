//! Issuing and revoking API keys through the `ApiKey` aggregate: shared by the CLI
//! (`ledgerd keys create`), GraphQL mutations and the tests.

use std::time::{Duration, Instant};

use domain::api_key::{stream_id, ApiKeyError};
use domain::ids::ApiKeyId;
use domain::scope::Permissions;
use domain::status::ApiKeyStatus;
use domain::{ApiKeyCommand, CommandMetadata};
use secrecy::SecretString;
use store::commands::CommandError;
use store::ledger::Ledger;

use crate::error::ApiError;

/// A key just issued: the clear key is here and nowhere else, show it once.
#[derive(Debug)]
pub struct IssuedKey {
    /// The key's id.
    pub key_id: ApiKeyId,
    /// The clear key (`ilk_…`).
    pub key: SecretString,
    /// Its display prefix.
    pub prefix: String,
}

/// Generates a key and issues it with `name`, `permissions` and an optional
/// per-key rate limit, then brings the read models up to date so that the key
/// authenticates as soon as this returns.
#[tracing::instrument(skip_all, fields(name), err)]
pub async fn issue(
    ledger: &Ledger,
    name: &str,
    permissions: Permissions,
    rate_limit_per_minute: Option<u32>,
    metadata: CommandMetadata,
) -> Result<IssuedKey, ApiError> {
    let services = ledger.services();
    let generated = domain::secrets::generate_api_key(&*services.random);
    let key_id = ApiKeyId::generate(&*services.ids);
    let command = ApiKeyCommand::Issue {
        key_id,
        name: name.to_owned(),
        permissions,
        rate_limit_per_minute,
        key_hash: generated.hash,
        prefix: generated.prefix.clone(),
    };
    ledger
        .api_keys()
        .execute(&stream_id(key_id), command, metadata.into_map())
        .await
        .map_err(key_error)?;
    project(ledger, key_id, ApiKeyStatus::Active).await;
    Ok(IssuedKey {
        key_id,
        key: generated.key,
        prefix: generated.prefix,
    })
}

/// Revokes a key, then brings the read models up to date so that it stops
/// authenticating as soon as this returns.
#[tracing::instrument(skip_all, fields(%key_id), err)]
pub async fn revoke(
    ledger: &Ledger,
    key_id: ApiKeyId,
    reason: Option<String>,
    metadata: CommandMetadata,
) -> Result<(), ApiError> {
    ledger
        .api_keys()
        .execute(
            &stream_id(key_id),
            ApiKeyCommand::Revoke { reason },
            metadata.into_map(),
        )
        .await
        .map_err(key_error)?;
    project(ledger, key_id, ApiKeyStatus::Revoked).await;
    Ok(())
}

/// How long [`project`] keeps applying events before leaving the rest to the
/// projector.
const PROJECT_LIMIT: Duration = Duration::from_secs(5);

/// Applies pending events to the read models in this task (safe beside a running
/// projector) until `api_keys` shows `key_id` with `status`. The event may not be
/// readable at once: subscriptions read only below the oldest transaction still
/// open, so this retries for up to [`PROJECT_LIMIT`]. A failure is only logged: the
/// command is committed, and the projector will apply it.
async fn project(ledger: &Ledger, key_id: ApiKeyId, status: ApiKeyStatus) {
    let started = Instant::now();
    loop {
        if let Err(err) = projections::read_models::catch_up(ledger.pool()).await {
            tracing::warn!(error = %err, "catching the read models up failed; the projector will apply the key change");
            return;
        }
        let shown = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND status_id = $2) AS "shown!""#,
            key_id.get(),
            status.id(),
        )
        .fetch_one(ledger.pool())
        .await;
        match shown {
            Ok(true) => return,
            Ok(false) if started.elapsed() < PROJECT_LIMIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(false) => {
                tracing::warn!(%key_id, "the key change is not projected yet; the projector will apply it");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading api_keys failed; the projector will apply the key change");
                return;
            }
        }
    }
}

/// The HTTP meaning of an `ApiKey` command failure.
pub fn key_error(err: CommandError<ApiKeyError>) -> ApiError {
    let unprocessable = |code, err: ApiKeyError| ApiError::Unprocessable {
        code,
        detail: err.to_string(),
    };
    match err {
        CommandError::Rejected(e @ ApiKeyError::InvalidName) => unprocessable("invalid_name", e),
        CommandError::Rejected(e @ ApiKeyError::NoPermissions) => {
            unprocessable("invalid_permissions", e)
        }
        CommandError::Rejected(e @ ApiKeyError::InvalidRateLimit) => {
            unprocessable("invalid_rate_limit", e)
        }
        CommandError::Rejected(e @ ApiKeyError::NotIssued) => ApiError::NotFound {
            code: "api_key_not_found",
            detail: e.to_string(),
        },
        CommandError::Rejected(e @ ApiKeyError::AlreadyRevoked) => ApiError::Conflict {
            code: "api_key_already_revoked",
            detail: e.to_string(),
        },
        CommandError::Rejected(e @ ApiKeyError::AlreadyIssued) => ApiError::Conflict {
            code: "api_key_already_issued",
            detail: e.to_string(),
        },
        other => ApiError::internal(other),
    }
}
