//! API keys on requests: `Authorization: Bearer <key>`, looked up by its SHA-256 hash
//! in the `api_keys` read model, then scopes checked per call.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::ids::ApiKeyId;
use domain::scope::{Permissions, Scope};
use domain::secrets::ApiKeyHash;
use sqlx::Row as _;

use crate::error::ApiError;
use crate::startup::AppState;

/// The client behind a request: an active API key.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id (the `actor` of every command it sends).
    pub key_id: ApiKeyId,
    /// Its scopes.
    pub permissions: Permissions,
    /// Its own rate limit per minute, if it has one.
    pub rate_limit_per_minute: Option<u32>,
}

impl Principal {
    /// `Ok` when the key holds `scope` (or `admin`), else 403 naming the scope.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.permissions.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden { scope })
        }
    }

    /// The command metadata actor for this key.
    pub fn actor(&self) -> domain::Actor {
        domain::Actor::ApiKey(self.key_id)
    }
}

/// Looks up the active key whose hash is that of `clear_key`.
pub async fn authenticate(state: &AppState, clear_key: &str) -> Result<Principal, ApiError> {
    let hash = ApiKeyHash::of_key(clear_key);
    let row = sqlx::query(
        "SELECT id, permissions_json, rate_limit_per_minute, status_id FROM api_keys WHERE key_hash = $1",
    )
    .bind(hash.as_str())
    .fetch_optional(&state.pool)
    .await
    .map_err(ApiError::internal)?;
    let Some(row) = row else {
        return Err(unauthorized("unknown_api_key", "no API key matches"));
    };
    let status: i16 = row.try_get("status_id").map_err(ApiError::internal)?;
    if status != domain::status::ApiKeyStatus::Active.id() {
        return Err(unauthorized("revoked_api_key", "this API key was revoked"));
    }
    let permissions: serde_json::Value = row
        .try_get("permissions_json")
        .map_err(ApiError::internal)?;
    let permissions: Permissions =
        serde_json::from_value(permissions).map_err(ApiError::internal)?;
    let rate: Option<i32> = row
        .try_get("rate_limit_per_minute")
        .map_err(ApiError::internal)?;
    Ok(Principal {
        key_id: ApiKeyId::new(row.try_get("id").map_err(ApiError::internal)?),
        permissions,
        rate_limit_per_minute: rate.and_then(|r| u32::try_from(r).ok()),
    })
}

fn unauthorized(code: &'static str, detail: &str) -> ApiError {
    ApiError::Unauthorized {
        code,
        detail: detail.into(),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing_api_key", "send `Authorization: Bearer <key>`"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                unauthorized(
                    "malformed_authorization",
                    "expected `Authorization: Bearer <key>`",
                )
            })?;
        let principal = authenticate(state, key).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
