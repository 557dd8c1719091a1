//! Trying a mapping before publishing it: `checkMapping` compiles a jq program and
//! says where it breaks; `dryRunMapping` runs it on a payload (given, or a recorded
//! event's) in the mapping sandbox, under the limits deliveries run under (ADR 0010):
//! its own pool of child processes, the same time bound, memory limit and number of
//! children as a dispatcher's.

use std::time::Instant;

use async_graphql::{Context, Object, SimpleObject, ID};
use dispatcher::sandbox::{SandboxConfig, SandboxError, SandboxPool, DRY_RUN_MAPPING_ID};
use domain::mapping::{MappingError as CompileError, MappingProgram};
use domain::scope::Scope;
use std::time::Duration;

use super::context::{parse_id, principal, state, ScopeGuard};
use super::error::{invalid, not_found, FieldError, FieldResult};
use crate::error::ApiError;
use crate::settings::Settings;

/// Why a program gave no output.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct MappingError {
    /// `invalid_mapping` (it does not compile, or is too long), `mapping_failed`
    /// (it raised an error or gave no output), `mapping_timeout` (it ran past the
    /// time bound), `mapping_crashed` (it overflowed its stack or exhausted memory).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// For `invalid_mapping`: the 1-based line of the offending token.
    pub line: Option<i32>,
    /// For `invalid_mapping`: its 1-based column, in characters.
    pub column: Option<i32>,
}

/// What a dry run gave.
#[derive(Debug, SimpleObject)]
pub struct MappingDryRun {
    /// The payload the program ran on.
    pub input: serde_json::Value,
    /// The body a delivery would send; null when the program failed.
    pub output: Option<serde_json::Value>,
    /// Why it failed, when it did.
    pub error: Option<MappingError>,
    /// How long the sandbox took, in milliseconds.
    pub duration_ms: i32,
}

/// The API's own sandbox for dry runs, sized and bounded as a dispatcher's, started
/// lazily (no child until the first dry run).
pub fn sandbox(settings: &Settings) -> SandboxPool {
    SandboxPool::new(SandboxConfig {
        command: dispatcher::sandbox::WorkerCommand::current_exe(),
        workers: settings.mapping_workers,
        memory_limit_mib: settings.mapping_memory_limit_mib,
        timeout: Duration::from_millis(settings.mapping_timeout_ms),
    })
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Compiles `program` on a thread of its own (compiling recurses); `None` when it
/// compiles.
async fn compile(program: String) -> FieldResult<Option<MappingError>> {
    let compiled = tokio::task::spawn_blocking(move || MappingProgram::compile(&program))
        .await
        .map_err(ApiError::internal)?;
    Ok(compiled.err().map(|e| match e {
        CompileError::Compile {
            ref message,
            line,
            column,
            ..
        } => MappingError {
            code: "invalid_mapping".into(),
            message: message.clone(),
            line: Some(to_i32(line)),
            column: Some(to_i32(column)),
        },
        other => MappingError {
            code: "invalid_mapping".into(),
            message: other.to_string(),
            line: None,
            column: None,
        },
    }))
}

fn sandbox_error(err: SandboxError) -> FieldResult<MappingError> {
    let code = match &err {
        SandboxError::Program(_) => "mapping_failed",
        SandboxError::Timeout { .. } => "mapping_timeout",
        SandboxError::Crashed { .. } | SandboxError::Garbage(_) => "mapping_crashed",
        SandboxError::Io(_) => return Err(ApiError::internal(err).into()),
    };
    Ok(MappingError {
        code: code.into(),
        message: err.to_string(),
        line: None,
        column: None,
    })
}

async fn dry_run(
    ctx: &Context<'_>,
    program: String,
    payload: Option<serde_json::Value>,
    event_id: Option<ID>,
) -> FieldResult<MappingDryRun> {
    let state = state(ctx)?;
    let input = match (payload, event_id) {
        (Some(payload), None) => payload,
        (None, Some(id)) => {
            principal(ctx)?.require(Scope::EventsRead)?;
            let id: i64 = parse_id("eventId", &id)?;
            sqlx::query_scalar!(
                "SELECT payload_json FROM integration_events WHERE id = $1",
                id
            )
            .fetch_optional(&state.pool)
            .await?
            .ok_or_else(|| not_found("event_not_found", format!("no event {id}")))?
        }
        _ => {
            return Err(invalid(
                "invalid_dry_run_input",
                "payload",
                "give either `payload` or `eventId`, not both",
            ))
        }
    };
    if let Some(error) = compile(program.clone()).await? {
        return Ok(MappingDryRun {
            input,
            output: None,
            error: Some(error),
            duration_ms: 0,
        });
    }
    let started = Instant::now();
    let ran = state
        .sandbox
        .run(DRY_RUN_MAPPING_ID, &program, &input)
        .await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (output, error) = match ran {
        Ok(output) => (Some(output), None),
        Err(err) => (None, Some(sandbox_error(err)?)),
    };
    Ok(MappingDryRun {
        input,
        output,
        error,
        duration_ms,
    })
}

/// `checkMapping` and `dryRunMapping`.
#[derive(Debug, Default)]
pub struct DryRunQuery;

#[Object]
impl DryRunQuery {
    /// Compiles a jq program as `publishMapping` would; null when it compiles, else
    /// where and why it does not (`invalid_mapping`).
    #[graphql(guard = "ScopeGuard(Scope::MappingsRead)")]
    async fn check_mapping(&self, program: String) -> async_graphql::Result<Option<MappingError>> {
        compile(program).await.map_err(FieldError::into_graphql)
    }

    /// Runs a jq program on `payload`, or on the payload of the recorded event
    /// `eventId` (which also needs `events:read`), in the mapping sandbox with the
    /// limits deliveries run under. Publishes nothing; a program that fails is
    /// answered with its `error`, not as a GraphQL error.
    #[graphql(guard = "ScopeGuard(Scope::MappingsRead)")]
    async fn dry_run_mapping(
        &self,
        ctx: &Context<'_>,
        program: String,
        payload: Option<serde_json::Value>,
        event_id: Option<ID>,
    ) -> async_graphql::Result<MappingDryRun> {
        dry_run(ctx, program, payload, event_id)
            .await
            .map_err(FieldError::into_graphql)
    }
}
