//! GraphQL errors: every one carries a stable `code` in `extensions`.
//!
//! Resolvers do their work in functions returning [`FieldResult`] and convert once,
//! with [`FieldError::into_graphql`]. [`FieldError`] is deliberately not `Display`:
//! async-graphql turns any `Display` error into a GraphQL error on `?`, which would
//! drop the code (and could leak a database message), so nothing reaches a client
//! without going through here. The codes are those of [`ApiError::code`], plus the
//! per-aggregate mappings below; [`ErrorCodes`] gives the errors async-graphql makes
//! itself (parsing, validation, limits, argument coercion) a code by the phase they
//! come from, never by their text.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use domain::delivery::DeliveryError;
use domain::endpoint::EndpointError;
use domain::event_mapping::EventMappingError;
use domain::mapping::MappingError;
use futures_util::stream::{BoxStream, StreamExt as _};
use store::commands::CommandError;

use crate::error::ApiError;

/// The deepest query accepted. The schema itself has no cycles (its deepest real
/// query is about 7 levels), so this bounds introspection's `ofType` chains; the
/// standard introspection query that GraphiQL sends is 13 levels deep.
pub const MAX_DEPTH: usize = 15;
/// The most complex query accepted: each field costs 1, a page multiplies its
/// children by its size, an unpaged list by [`LIST_COST`].
pub const MAX_COMPLEXITY: usize = 2_000;
/// What an unpaged list (an event's deliveries, a delivery's attempts) multiplies
/// its children's cost by.
pub const LIST_COST: usize = 10;

/// The error of one GraphQL field: an [`ApiError`] and extra `extensions` entries.
#[derive(Debug)]
pub struct FieldError {
    error: ApiError,
    extensions: Vec<(&'static str, Value)>,
}

/// What resolvers' inner functions return.
pub type FieldResult<T> = Result<T, FieldError>;

impl FieldError {
    /// Adds an entry to the error's `extensions` (besides `code`).
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.extensions.push((key, value.into()));
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.error.code()
    }

    /// The GraphQL error: the message, `extensions.code`, and for a missing scope
    /// `extensions.scope`. An internal error is logged here, once, and answered with
    /// an opaque message.
    pub fn into_graphql(self) -> async_graphql::Error {
        if let ApiError::Internal(source) = &self.error {
            tracing::error!(
                error = %crate::error::cause_chain(&**source),
                "internal error in a GraphQL field"
            );
        }
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.error.code());
        match &self.error {
            ApiError::Forbidden { scope } | ApiError::NotGrantable { scope } => {
                extensions.set("scope", scope.as_str())
            }
            ApiError::Invalid { field, .. } => extensions.set("field", field.clone()),
            ApiError::RateLimited {
                retry_after_secs, ..
            } => extensions.set("retryAfterSecs", *retry_after_secs),
            _ => {}
        }
        for (key, value) in self.extensions {
            extensions.set(key, value);
        }
        async_graphql::Error {
            message: self.error.to_string(),
            source: None,
            extensions: Some(extensions),
        }
    }
}

impl From<ApiError> for FieldError {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            extensions: Vec::new(),
        }
    }
}

impl From<sqlx::Error> for FieldError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::internal(error).into()
    }
}

/// `invalid_<field>`-style rejection of an argument (422), naming the argument in
/// `extensions.field`.
pub fn invalid(code: &'static str, field: &'static str, detail: impl ToString) -> FieldError {
    FieldError::from(ApiError::Unprocessable {
        code,
        detail: detail.to_string(),
    })
    .with("field", field)
}

/// Nothing with that id (`*_not_found`).
pub fn not_found(code: &'static str, detail: impl ToString) -> FieldError {
    ApiError::NotFound {
        code,
        detail: detail.to_string(),
    }
    .into()
}

/// The command conflicts with the current state.
pub fn conflict(code: &'static str, detail: impl ToString) -> FieldError {
    ApiError::Conflict {
        code,
        detail: detail.to_string(),
    }
    .into()
}

/// What every command failure other than a rejection means.
fn command_failure<E: std::error::Error + Send + Sync + 'static>(
    err: CommandError<E>,
) -> FieldError {
    match err {
        CommandError::Conflict => conflict("concurrent_modification", CommandError::<E>::Conflict),
        other => ApiError::internal(other).into(),
    }
}

/// The meaning of an `Endpoint` command failure.
pub fn endpoint_error(err: CommandError<EndpointError>) -> FieldError {
    let CommandError::Rejected(e) = err else {
        return command_failure(err);
    };
    match e {
        EndpointError::NotRegistered => not_found("endpoint_not_found", e),
        EndpointError::Deleted => conflict("endpoint_deleted", e),
        EndpointError::AlreadyRegistered => conflict("endpoint_already_registered", e),
        EndpointError::AlreadyDisabled => conflict("endpoint_already_disabled", e),
        EndpointError::NotDisabled => conflict("endpoint_not_disabled", e),
        EndpointError::GracePeriodTooLong => invalid("invalid_grace_period", "gracePeriodSecs", e),
        EndpointError::TimeoutOutOfRange => invalid("invalid_timeout", "timeoutMs", e),
        EndpointError::Cipher(_) => ApiError::internal(e).into(),
    }
}

/// The meaning of an `EventMapping` command failure: a program that does not
/// compile is `invalid_mapping` with the parser's `message`, `line`, `column` and
/// byte `offset` in `extensions`.
pub fn mapping_error(err: CommandError<EventMappingError>) -> FieldError {
    let CommandError::Rejected(e) = err else {
        return command_failure(err);
    };
    match e {
        EventMappingError::InvalidProgram(MappingError::Compile {
            ref message,
            offset,
            line,
            column,
        }) => {
            let message = message.clone();
            invalid("invalid_mapping", "program", &e)
                .with("parserMessage", message)
                .with("line", line)
                .with("column", column)
                .with("offset", offset)
        }
        EventMappingError::InvalidProgram(MappingError::TooLong { max, .. }) => {
            invalid("invalid_mapping", "program", &e).with("maxBytes", max)
        }
        EventMappingError::InvalidProgram(_) => invalid("invalid_mapping", "program", e),
        EventMappingError::VersionNotIncreasing { latest, .. } => {
            invalid("invalid_version", "version", &e).with("latestVersion", latest)
        }
        EventMappingError::IdentityMismatch { .. } => conflict("mapping_identity_mismatch", e),
        EventMappingError::NotPublished => not_found("mapping_not_found", e),
        EventMappingError::AlreadyRetired => conflict("mapping_already_retired", e),
    }
}

/// The meaning of a `Delivery` command failure.
pub fn delivery_error(err: CommandError<DeliveryError>) -> FieldError {
    let CommandError::Rejected(e) = err else {
        return command_failure(err);
    };
    match e {
        DeliveryError::NotScheduled => not_found("delivery_not_found", e),
        DeliveryError::NotRequeueable { .. } => conflict("delivery_not_requeueable", e),
        DeliveryError::NotAttemptable { .. } => conflict("delivery_not_attemptable", e),
        DeliveryError::NotCancellable { .. } => conflict("delivery_not_cancellable", e),
        DeliveryError::NotBlocking => conflict("delivery_not_blocking", e),
    }
}

/// Gives every error async-graphql raises by itself a `code`, by the phase it comes
/// from: `invalid_query` (syntax, validation), `query_too_deep`,
/// `query_too_complex`, `invalid_argument` (an argument that does not coerce), and
/// `bad_request` for anything else. It measures each parsed document before
/// validation ([`super::cost`]: fragments written out, aliases, NUL characters) and
/// enforces the depth and complexity limits, from the validation's own
/// measurements, so that each has its own code.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn coded(mut error: ServerError, code: &'static str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

fn limit_error(code: &'static str, message: String, value: usize, max: usize) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    extensions.set("value", value);
    extensions.set("max", max);
    error.extensions = Some(extensions);
    error
}

/// Checks the measured depth and complexity against the limits.
pub fn check_limits(result: &ValidationResult) -> Result<(), ServerError> {
    if result.depth > MAX_DEPTH {
        return Err(limit_error(
            "query_too_deep",
            format!(
                "the query is nested {} levels deep; at most {MAX_DEPTH} are allowed",
                result.depth
            ),
            result.depth,
            MAX_DEPTH,
        ));
    }
    if result.complexity > MAX_COMPLEXITY {
        return Err(limit_error(
            "query_too_complex",
            format!(
                "the query's complexity is {}; at most {MAX_COMPLEXITY} is allowed",
                result.complexity
            ),
            result.complexity,
            MAX_COMPLEXITY,
        ));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| coded(e, "bad_request"))
            .collect();
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| coded(e, "invalid_query"))?;
        // Before validation, which would write out every fragment spread.
        super::cost::check(&document, variables)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| coded(e, "invalid_query"))
                .collect::<Vec<_>>()
        })?;
        check_limits(&result).map_err(|e| vec![e])?;
        Ok(result)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                response.errors = std::mem::take(&mut response.errors)
                    .into_iter()
                    .map(|e| coded(e, "invalid_argument"))
                    .collect();
                response
            })
            .boxed()
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| coded(e, "invalid_argument"))
            .collect();
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::tests::{logged, Reading};

    #[test]
    fn an_internal_error_in_a_field_logs_every_cause_and_answers_none() {
        let err = Reading(std::io::Error::other("disk quota exceeded"));
        let (answer, log) = logged(|| FieldError::from(ApiError::internal(err)).into_graphql());
        assert!(
            log.contains("reading the dead letters: disk quota exceeded"),
            "{log}"
        );
        assert!(!answer.message.contains("disk quota"), "{}", answer.message);
    }
}
