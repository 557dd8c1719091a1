//! What every resolver reaches through the GraphQL context: the application state
//! (schema data), the caller's [`Principal`] and request id (request data), the
//! scope guard, and id parsing.

use std::str::FromStr;

use async_graphql::{Context, Guard, ID};
use domain::scope::Scope;
use domain::CommandMetadata;

use super::error::{invalid, FieldError, FieldResult};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::startup::AppState;

/// The id of the HTTP request (or WebSocket connection) a command came with: the
/// `request_id` of its metadata.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Lets a field resolve only for a caller whose key holds `scope` (or `admin`);
/// otherwise the error is `missing_scope` with `extensions.scope` naming it, or
/// `missing_api_key` when no key came with the request.
#[derive(Debug, Clone, Copy)]
pub struct ScopeGuard(pub Scope);

impl Guard for ScopeGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        principal(ctx)
            .and_then(|p| p.require(self.0).map_err(FieldError::from))
            .map_err(FieldError::into_graphql)
    }
}

/// The application state the schema was built with.
pub fn state<'a>(ctx: &Context<'a>) -> FieldResult<&'a AppState> {
    ctx.data::<AppState>()
        .map_err(|_| ApiError::internal("the GraphQL schema was built without its AppState").into())
}

/// The authenticated caller.
pub fn principal<'a>(ctx: &Context<'a>) -> FieldResult<&'a Principal> {
    ctx.data_opt::<Principal>().ok_or_else(|| {
        ApiError::Unauthorized {
            code: "missing_api_key",
            detail: "send `Authorization: Bearer <key>`".into(),
        }
        .into()
    })
}

/// Metadata for a command sent on behalf of the caller: actor = the key's id, the
/// request id as request, correlation and causation id.
pub fn metadata(ctx: &Context<'_>) -> FieldResult<CommandMetadata> {
    let principal = principal(ctx)?;
    let request_id = ctx
        .data_opt::<RequestId>()
        .map_or_else(|| "graphql".to_owned(), |r| r.0.clone());
    Ok(CommandMetadata::for_request(principal.actor(), request_id))
}

/// Parses an `ID` argument into a typed id; a malformed one is `invalid_id` naming
/// the argument.
pub fn parse_id<T>(field: &'static str, id: &ID) -> FieldResult<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    id.as_str().parse::<T>().map_err(|e| {
        invalid(
            "invalid_id",
            field,
            format!("`{field}` must be a decimal id, such as \"118430812364881920\" ({e})"),
        )
    })
}

/// Parses an optional `ID` argument.
pub fn parse_opt_id<T>(field: &'static str, id: Option<&ID>) -> FieldResult<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    id.map(|id| parse_id(field, id)).transpose()
}
