//! API keys on requests: `Authorization: Bearer <key>` (the scheme in any case),
//! looked up by its SHA-256 hash in the key's own stream of the log, then scopes
//! checked per call.
//!
//! [`api_key_layer`] authenticates every request that carries a key, counts it
//! against the key's rate limit and sets the `RateLimit-*` headers; handlers then
//! take a [`Principal`] (found in the request's extensions, or looked up if the
//! layer did not run) and call [`Principal::require`].

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use domain::api_key::ApiKeyEvent;
use domain::ids::ApiKeyId;
use domain::scope::{Permissions, Scope};
use domain::secrets::ApiKeyHash;

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

/// Looks up the active key whose hash is that of `clear_key`, and notes its use
/// for `last_used_at`.
///
/// The key is read from its own stream in the log, not from the `api_keys` read
/// model: its `ApiKeyIssued` event (found by hash through a partial index) and
/// whether an `ApiKeyRevoked` follows it. So a key works as soon as it is issued and
/// stops as soon as its revocation commits, whatever the projector's lag (ADR 0011).
pub async fn authenticate(state: &AppState, clear_key: &str) -> Result<Principal, ApiError> {
    let hash = ApiKeyHash::of_key(clear_key);
    let principal = key_state(&state.pool, &hash).await?;
    state
        .last_used
        .touch(principal.key_id, state.ledger.services().now());
    Ok(principal)
}

/// The key whose hash is `hash`, from its stream: 401 when there is none or it was
/// revoked.
pub async fn key_state(pool: &sqlx::PgPool, hash: &ApiKeyHash) -> Result<Principal, ApiError> {
    // The hash expression is that of the partial index `events_api_key_hash_idx`.
    let row = sqlx::query!(
        r#"SELECT i.payload,
                  EXISTS (SELECT 1 FROM events r
                          WHERE r.aggregate_type = 'ApiKey' AND r.aggregate_id = i.aggregate_id
                            AND r.event_type = 'ApiKeyRevoked') AS "revoked!"
           FROM events i
           WHERE i.aggregate_type = 'ApiKey' AND i.event_type = 'ApiKeyIssued'
             AND ((i.payload -> 'ApiKeyIssued') ->> 'key_hash') = $1
           LIMIT 1"#,
        hash.as_str(),
    )
    .fetch_optional(pool)
    .await
    .map_err(ApiError::internal)?;
    let Some(row) = row else {
        return Err(unauthorized("unknown_api_key", "no API key matches"));
    };
    if row.revoked {
        return Err(unauthorized("revoked_api_key", "this API key was revoked"));
    }
    match serde_json::from_value::<ApiKeyEvent>(row.payload).map_err(ApiError::internal)? {
        ApiKeyEvent::ApiKeyIssued {
            key_id,
            permissions,
            rate_limit_per_minute,
            ..
        } => Ok(Principal {
            key_id,
            permissions,
            rate_limit_per_minute,
        }),
        ApiKeyEvent::ApiKeyRevoked { .. } => Err(ApiError::internal(
            "an ApiKeyIssued row holds another event",
        )),
    }
}

/// The key of `Authorization: Bearer <key>`; `Ok(None)` when the header is absent.
fn bearer_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(header) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    header
        .to_str()
        .ok()
        .and_then(strip_bearer)
        .filter(|k| !k.is_empty())
        .map(Some)
        .ok_or_else(|| {
            unauthorized(
                "malformed_authorization",
                "expected `Authorization: Bearer <key>`",
            )
        })
}

/// `Ok` while the key `key_id` is not revoked, by its stream in the log; 401
/// `revoked_api_key` once it is. For connections that outlive a request.
pub async fn ensure_not_revoked(pool: &sqlx::PgPool, key_id: ApiKeyId) -> Result<(), ApiError> {
    let revoked: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = 'ApiKey'
           AND aggregate_id = $1 AND event_type = 'ApiKeyRevoked') AS "revoked!""#,
        domain::api_key::stream_id(key_id),
    )
    .fetch_one(pool)
    .await
    .map_err(ApiError::internal)?;
    if revoked {
        Err(unauthorized("revoked_api_key", "this API key was revoked"))
    } else {
        Ok(())
    }
}

/// The credentials of `Bearer <key>`, the scheme matched in any case (RFC 7235).
pub fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Middleware: a request that carries a key is authenticated (401 otherwise) and
/// counted against the key's rate limit (429 over it); its [`Principal`] goes into
/// the request's extensions, and the response gets the `RateLimit-*` headers. A
/// request without a key passes through: handlers that need one answer 401, and
/// inbound webhooks authenticate by signature instead.
pub async fn api_key_layer(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = match bearer_key(request.headers()) {
        Ok(Some(key)) => key.to_owned(),
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    let principal = match authenticate(&state, &key).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    let limit = principal
        .rate_limit_per_minute
        .unwrap_or(state.settings.rate_limit_per_minute);
    let window = match state.rate_limiter.hit(principal.key_id.get(), limit).await {
        Ok(window) => window,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let mut response = if window.exceeded() {
        ApiError::RateLimited {
            limit,
            retry_after_secs: window.reset_secs,
        }
        .into_response()
    } else {
        request.extensions_mut().insert(principal);
        next.run(request).await
    };
    window.write_headers(response.headers_mut());
    response
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
        let key = bearer_key(&parts.headers)?
            .ok_or_else(|| unauthorized("missing_api_key", "send `Authorization: Bearer <key>`"))?;
        let principal = authenticate(state, key).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
