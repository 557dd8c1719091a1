//! `GET /health`: whether the process runs and reaches its database.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::startup::AppState;

/// The health report.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` when everything answers, `degraded` otherwise.
    pub status: &'static str,
    /// `up` or `down`.
    pub database: &'static str,
    /// Why the database is down, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Answers 200 when the database answers within two seconds, 503 otherwise.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let probe = sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "up",
                detail: None,
            }),
        ),
        Ok(Err(err)) => down(err.to_string()),
        Err(_) => down("no answer within 2 s".into()),
    }
}

fn down(detail: String) -> (StatusCode, Json<Health>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: "degraded",
            database: "down",
            detail: Some(detail),
        }),
    )
}
