//! Operations endpoints, without an API key: `GET /ready` and `GET /metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::error::ApiError;
use crate::startup::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// The readiness report.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok`, or why the database does not answer.
    pub database: String,
    /// `ok`, `pending` (migrations not applied) or why they cannot be read.
    pub migrations: String,
    /// `ok`, or the subscriptions that stopped: each with the position of the event
    /// it stopped on and why (`ledgerd projections park` or `resume` decides).
    pub subscriptions: String,
}

/// 200 when the database answers, every migration is applied and no subscription
/// has stopped; 503 naming what is wrong otherwise.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let limit = Duration::from_secs(2);
    let timeout = |what: &str| format!("{what}: no answer within 2 s");
    let database = match tokio::time::timeout(
        limit,
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(&state.pool),
    )
    .await
    {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(err)) => err.to_string(),
        Err(_) => timeout("database"),
    };
    let migrations =
        match tokio::time::timeout(limit, store::migrate::is_up_to_date(&state.pool)).await {
            Ok(Ok(true)) => "ok".to_owned(),
            Ok(Ok(false)) => "pending".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Err(_) => timeout("migrations"),
        };
    let stopped = tokio::time::timeout(
        limit,
        sqlx::query_scalar!(
            r#"SELECT name || coalesce(' at position ' || stopped_position, '')
                      || coalesce(' (' || error || ')', '') AS "stopped!"
               FROM subscription_checkpoints WHERE state = 'stopped' ORDER BY name"#,
        )
        .fetch_all(&state.pool),
    )
    .await;
    let subscriptions = match stopped {
        Ok(Ok(names)) if names.is_empty() => "ok".to_owned(),
        Ok(Ok(names)) => format!("stopped: {}", names.join(", ")),
        Ok(Err(err)) => err.to_string(),
        Err(_) => timeout("subscriptions"),
    };
    let ok = database == "ok" && migrations == "ok" && subscriptions == "ok";
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Readiness {
            status: if ok { "ready" } else { "not_ready" },
            database,
            migrations,
            subscriptions,
        }),
    )
}

/// The Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = crate::metrics::render(&state.metrics, &state.pool)
        .await
        .map_err(|err| ApiError::Unavailable {
            code: "database_unavailable",
            detail: format!("reading the database gauges: {err}"),
        })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
