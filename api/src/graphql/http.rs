//! The `/graphql` route: `POST` runs queries and mutations; `GET` serves GraphiQL,
//! or with `Upgrade: websocket` runs subscriptions (graphql-transport-ws).
//!
//! Authentication is the REST API's: `Authorization: Bearer <key>` on the request
//! (or, for a WebSocket, on the upgrade request or in the `connection_init`
//! payload as `{"Authorization": "Bearer <key>"}`). The [`Principal`] and a request
//! id go into the GraphQL request data; each field checks its own scope.

use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{BatchRequest, Data};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::{FromRequestParts as _, Request, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::context::RequestId;
use super::LedgerSchema;
use crate::auth::{authenticate, Principal};
use crate::error::ApiError;
use crate::startup::AppState;

/// The most operations one batched `POST /graphql` may carry; each is checked
/// against the depth, complexity and size limits, and counts against the key's
/// rate limit, on its own.
pub const MAX_BATCH_OPERATIONS: usize = 10;

/// The route `/graphql`, with its schema built over `state`.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .layer(Extension(super::schema(state.clone())))
}

/// An error before any GraphQL ran (authentication, body): the GraphQL response
/// shape, `{"errors": [{"message", "extensions": {"code"}}]}`, with the HTTP status.
fn error_response(error: ApiError) -> Response {
    let status = error.status();
    if let ApiError::Internal(source) = &error {
        tracing::error!(error = %source, "internal error before GraphQL execution");
    }
    let body = serde_json::json!({
        "errors": [{
            "message": error.to_string(),
            "extensions": { "code": error.code() },
        }]
    });
    (status, Json(body)).into_response()
}

/// The request's `x-request-id` when it is sensible, else a fresh one.
fn request_id(headers: &HeaderMap, state: &AppState) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || format!("req_{}", state.ledger.services().ids.next_id()),
            str::to_owned,
        )
}

async fn post_graphql(
    State(state): State<AppState>,
    Extension(schema): Extension<LedgerSchema>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => return error_response(err),
    };
    let limit = state.settings.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return error_response(ApiError::PayloadTooLarge { limit: Some(limit) });
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return error_response(ApiError::PayloadTooLarge { limit: Some(limit) });
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(batch) => batch,
        Err(err) if err.is_data() => {
            return error_response(ApiError::BadRequest {
                code: "invalid_body",
                detail: format!("not a GraphQL request: {err}"),
            })
        }
        Err(err) => {
            return error_response(ApiError::BadRequest {
                code: "malformed_json",
                detail: err.to_string(),
            })
        }
    };
    if let BatchRequest::Batch(operations) = &batch {
        if operations.len() > MAX_BATCH_OPERATIONS {
            return error_response(ApiError::BadRequest {
                code: "batch_too_large",
                detail: format!(
                    "a batch may hold at most {MAX_BATCH_OPERATIONS} operations, got {}",
                    operations.len()
                ),
            });
        }
        // The key's rate limit counted this request once; each further operation
        // counts too.
        if let Some(more) = operations.len().checked_sub(1).filter(|n| *n > 0) {
            let limit = principal
                .rate_limit_per_minute
                .unwrap_or(state.settings.rate_limit_per_minute);
            let more = u32::try_from(more).unwrap_or(u32::MAX);
            match state
                .rate_limiter
                .hit_n(principal.key_id.get(), limit, more)
                .await
            {
                Ok(window) if window.exceeded() => {
                    let mut response = error_response(ApiError::RateLimited {
                        limit,
                        retry_after_secs: window.reset_secs,
                    });
                    window.write_headers(response.headers_mut());
                    return response;
                }
                Ok(_) => {}
                Err(err) => return error_response(ApiError::internal(err)),
            }
        }
    }
    let batch = batch
        .data(principal)
        .data(RequestId(request_id(&headers, &state)));
    Json(schema.execute_batch(batch).await).into_response()
}

async fn get_graphql(
    State(state): State<AppState>,
    Extension(schema): Extension<LedgerSchema>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !parts.headers.contains_key(header::UPGRADE) {
        return Html(GRAPHIQL).into_response();
    }
    let from_header = if parts.headers.contains_key(header::AUTHORIZATION)
        || parts.extensions.get::<Principal>().is_some()
    {
        match Principal::from_request_parts(&mut parts, &state).await {
            Ok(principal) => Some(principal),
            Err(err) => return error_response(err),
        }
    } else {
        None
    };
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return error_response(ApiError::BadRequest {
                code: "unsupported_websocket_protocol",
                detail: format!(
                    "{status}: use the `{}` WebSocket protocol",
                    WebSocketProtocols::GraphQLWS.sec_websocket_protocol()
                ),
            })
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let mut data = Data::default();
    data.insert(RequestId(request_id(&parts.headers, &state)));
    let authenticated = from_header.is_some();
    if let Some(principal) = from_header {
        data.insert(principal);
    }
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .with_data(data)
                .on_connection_init(move |payload| connection_init(state, payload, authenticated))
                .serve()
        })
}

/// Authenticates a WebSocket from its `connection_init` payload
/// (`{"Authorization": "Bearer <key>"}`; `authorization` and `apiKey` are accepted
/// too). A refused connection is closed with the error's code at the start of the
/// close reason, e.g. `unknown_api_key: no API key matches`.
async fn connection_init(
    state: AppState,
    payload: serde_json::Value,
    authenticated: bool,
) -> async_graphql::Result<Data> {
    let refuse = |err: ApiError| async_graphql::Error::new(format!("{}: {err}", err.code()));
    let key = ["Authorization", "authorization"]
        .iter()
        .find_map(|name| payload.get(*name).and_then(|v| v.as_str()))
        .map(|v| crate::auth::strip_bearer(v).unwrap_or(v).trim().to_owned())
        .or_else(|| {
            payload
                .get("apiKey")
                .and_then(|v| v.as_str())
                .map(|v| v.trim().to_owned())
        })
        .filter(|k| !k.is_empty());
    let mut data = Data::default();
    match key {
        Some(key) => data.insert(authenticate(&state, &key).await.map_err(refuse)?),
        None if authenticated => {}
        None => {
            return Err(refuse(ApiError::Unauthorized {
                code: "missing_api_key",
                detail: "send {\"Authorization\": \"Bearer <key>\"} in connection_init".into(),
            }))
        }
    }
    Ok(data)
}

/// GraphiQL, from a CDN; it sends the headers of its header editor with each
/// request and in `connection_init`.
const GRAPHIQL: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Integration Ledger · GraphiQL</title>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
  <style>body { margin: 0; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
  <script>
    const url = new URL('/graphql', window.location.href).toString();
    const fetcher = GraphiQL.createFetcher({
      url,
      subscriptionUrl: url.replace(/^http/, 'ws'),
    });
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultEditorToolsVisibility: 'headers',
        defaultHeaders: JSON.stringify({ Authorization: 'Bearer ilk_...' }, null, 2),
      }),
    );
  </script>
</body>
</html>
"#;
