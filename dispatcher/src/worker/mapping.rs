//! Running a delivery's mapping: the identity program here, any other one in the
//! mapping sandbox's child processes under a time bound (ADR 0010).

use std::sync::Arc;

use crate::sandbox::{SandboxConfig, SandboxPool};

/// The mappings of one dispatcher: its sandbox pool. Compiled programs are cached
/// by the children, per mapping id (a published version never changes).
#[derive(Debug)]
pub(crate) struct Mappings {
    sandbox: SandboxPool,
}

impl Mappings {
    /// No child started yet; the first non-identity mapping starts one.
    pub(crate) fn new(config: SandboxConfig) -> Self {
        Self {
            sandbox: SandboxPool::new(config),
        }
    }

    /// The body a delivery sends: `payload` through the mapping `mapping_id` (whose
    /// source is `source`), as JSON bytes; or the message that dead-letters it.
    ///
    /// The identity program (`.`, the common case) cannot fail and needs no
    /// sandbox. Any other program runs in a child process: one that fails, crashes
    /// its child (stack overflow, memory) or runs past the bound is an error here,
    /// never a crash or a spinning thread of the dispatcher. The program is not
    /// even compiled here: compiling is recursive too.
    pub(crate) async fn body(
        &self,
        mapping_id: i64,
        source: &str,
        payload: Arc<serde_json::Value>,
    ) -> Result<Vec<u8>, String> {
        let value = if is_identity(source) {
            payload
        } else {
            let mapped = self.sandbox.run(mapping_id, source, &payload).await;
            Arc::new(mapped.map_err(|e| e.to_string())?)
        };
        serde_json::to_vec(&*value).map_err(|e| e.to_string())
    }
}

/// `.` alone (with any white space): the payload as it is.
fn is_identity(source: &str) -> bool {
    source.trim() == "."
}

#[cfg(test)]
mod tests {
    //! Everything else needs a child program: `tests/sandbox.rs`.
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::sandbox::WorkerCommand;

    #[tokio::test]
    async fn the_identity_program_runs_without_a_sandbox() {
        // A worker program that does not exist: the identity never needs it.
        let mappings = Mappings::new(SandboxConfig {
            command: WorkerCommand {
                program: PathBuf::from("/nonexistent/ledger-mapping-worker"),
                args: Vec::new(),
            },
            workers: 1,
            memory_limit_mib: 256,
            timeout: Duration::from_secs(1),
        });
        let payload = Arc::new(serde_json::json!({"order": {"id": 7, "total": 12}}));
        let body = mappings.body(1, " .\n", payload.clone()).await;
        assert_eq!(
            body.as_deref().ok(),
            Some(&br#"{"order":{"id":7,"total":12}}"#[..])
        );
        let err = mappings.body(2, "{id: .order.id}", payload).await;
        assert!(
            err.as_ref()
                .is_err_and(|m| m.contains("cannot run the mapping process")),
            "{err:?}"
        );
    }
}
