//! The operational notices' payload schemas (ADR 0016), public like the docs that
//! describe them: `GET /v1/notices` lists the types, `GET /v1/notices/{type}.schema.json`
//! is one JSON Schema (`docs/notices/` holds the same files).

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use domain::notice::NoticeType;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::startup::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/notices", get(list))
        .route("/v1/notices/{file}", get(schema))
}

async fn list() -> Json<Value> {
    let notices: Vec<Value> = NoticeType::ALL
        .iter()
        .map(|t| {
            json!({
                "event_type": t.as_str(),
                "description": t.description(),
                "schema": format!("/v1/notices/{}.schema.json", t.as_str()),
            })
        })
        .collect();
    Json(
        json!({ "source_system": domain::notice::SOURCE, "version": domain::notice::VERSION, "notices": notices }),
    )
}

async fn schema(Path(file): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let kind = file
        .strip_suffix(".schema.json")
        .and_then(NoticeType::parse)
        .ok_or_else(|| ApiError::NotFound {
            code: "notice_not_found",
            detail: format!("no notice schema {file:?}; GET /v1/notices lists them"),
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(kind.schema()),
    ))
}
