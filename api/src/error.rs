//! `ApiError`: every HTTP error, with a stable `code`, and its response
//! `{"code": "...", "detail": "..."}`.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::scope::Scope;
use serde::Serialize;

/// An error body: a stable machine-readable code and a sentence for people.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable, snake_case; clients match on it.
    pub code: &'static str,
    /// What went wrong, for people.
    pub detail: String,
    /// The offending field, when one is to blame (`events[2].event_type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Every error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Detail, naming the field.
        detail: String,
    },
    /// The request is well-formed but breaks a rule (422).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Detail, naming the field.
        detail: String,
    },
    /// One field of the request is missing, of the wrong type, unknown or invalid
    /// (422); the body names it in `field`.
    #[error("{detail}")]
    Invalid {
        /// Stable code: `missing_field`, `unknown_field`, `invalid_type`,
        /// `invalid_value`, `unsupported_character`.
        code: &'static str,
        /// The field's path, e.g. `events[2].event_type`.
        field: String,
        /// Detail, naming the field.
        detail: String,
    },
    /// No valid credentials (401).
    #[error("{detail}")]
    Unauthorized {
        /// Which check failed.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// The key lacks a scope (403).
    #[error("this API key lacks the `{}` scope", scope.as_str())]
    Forbidden {
        /// The missing scope.
        scope: Scope,
    },
    /// A key tried to issue a key with a scope it does not hold itself (403).
    #[error("this API key cannot grant the `{}` scope: a key grants only scopes it holds, and `admin` only an `admin` key", scope.as_str())]
    NotGrantable {
        /// The scope it may not grant.
        scope: Scope,
    },
    /// Nothing with that id (404).
    #[error("{detail}")]
    NotFound {
        /// Stable code, e.g. `endpoint_not_found`.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// A conflict with the current state (409).
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// The body is larger than allowed (413).
    #[error("the request body exceeds {}", match limit { Some(l) => format!("the limit of {l} bytes"), None => "the size limit".to_owned() })]
    PayloadTooLarge {
        /// The limit in bytes, when known where the error is raised.
        limit: Option<usize>,
    },
    /// Over the client's rate limit (429).
    #[error("rate limit of {limit} requests per minute exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        /// Requests allowed per window.
        limit: u32,
        /// Seconds until the window resets.
        retry_after_secs: u64,
    },
    /// More accepted deliveries wait than this process sends in its admission
    /// bound (429, ADR 0018).
    #[error("{backlog_secs:.2} s of deliveries wait to be sent, over twice the bound of {bound_ms} ms; retry in {retry_after_secs} s")]
    Overloaded {
        /// The backlog, in seconds of delivery work.
        backlog_secs: f64,
        /// `admission_backlog_ms`.
        bound_ms: u64,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The service cannot answer now (503), e.g. the database is unreachable.
    #[error("{detail}")]
    Unavailable {
        /// Stable code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// Anything else (500); the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 500 from any error; a 503 `database_unavailable` (with `Retry-After`) when
    /// anything in its chain of causes says the database cannot be reached now, so
    /// that clients retry what an outage refused.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let err = err.into();
        if database_unreachable(&*err) {
            tracing::warn!(error = %cause_chain(&*err), "the database cannot be reached");
            return Self::Unavailable {
                code: "database_unavailable",
                detail: "the database cannot be reached; try again shortly".into(),
            };
        }
        Self::Internal(err)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } | Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::NotGrantable { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } | Self::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Invalid { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Forbidden { .. } => "missing_scope",
            Self::NotGrantable { .. } => "scope_not_grantable",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded { .. } => "backlog_full",
            Self::Internal(_) => "internal",
        }
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            detail: self.to_string(),
            field: match self {
                Self::Invalid { field, .. } => Some(field.clone()),
                _ => None,
            },
        }
    }
}

/// Seconds a client is told to wait after a 503 `database_unavailable`.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Whether `err` or any of its causes is a database error meaning "unreachable now".
fn database_unreachable(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err
            .downcast_ref::<sqlx::Error>()
            .is_some_and(store::db::is_unreachable)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// `err` and every error in its chain of causes, `: `-separated: what a log line
/// says of an error, so that a 500 names why (the top error alone often says only
/// what was being done).
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    store::report::chain(err)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %cause_chain(&**source), "internal error");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        let retry_after = match &self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::Overloaded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::Unavailable { .. } => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(value) = retry_after.and_then(|secs| secs.to_string().parse().ok()) {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(err) => Self::Unprocessable {
                code: "invalid_body",
                detail: err.body_text(),
            },
            JsonRejection::JsonSyntaxError(err) => Self::BadRequest {
                code: "malformed_json",
                detail: err.body_text(),
            },
            JsonRejection::MissingJsonContentType(_) => Self::BadRequest {
                code: "unsupported_content_type",
                detail: "expected `content-type: application/json`".into(),
            },
            JsonRejection::BytesRejection(err) => {
                if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    // The extractor does not know the limit; the body-limit
                    // middleware answers first whenever a Content-Length says it.
                    Self::PayloadTooLarge { limit: None }
                } else {
                    Self::BadRequest {
                        code: "unreadable_body",
                        detail: err.body_text(),
                    }
                }
            }
            other => Self::BadRequest {
                code: "invalid_body",
                detail: other.body_text(),
            },
        }
    }
}

/// `Json` whose rejections answer in the `{code, detail}` shape.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What was being done, over why it failed.
    #[derive(Debug, thiserror::Error)]
    #[error("reading the dead letters")]
    pub(crate) struct Reading(#[source] pub(crate) std::io::Error);

    /// The log lines written while `f` runs.
    pub(crate) fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let lines = lines.clone();
            move || Lines(lines.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        let out = tracing::subscriber::with_default(subscriber, f);
        let text =
            String::from_utf8_lossy(&lines.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
        (out, text)
    }

    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_500_logs_every_cause_of_its_error_and_answers_none() {
        let err = Reading(std::io::Error::other("disk quota exceeded"));
        let (response, log) = logged(|| ApiError::internal(err).into_response());
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            log.contains("reading the dead letters: disk quota exceeded"),
            "{log}"
        );
    }
}
