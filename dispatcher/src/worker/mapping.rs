//! Running a delivery's mapping: compiled once per mapping version, run on a
//! blocking thread under a time bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::mapping::MappingProgram;

/// Compiled mapping programs by `event_mappings.id`. A published version never
/// changes, so an entry never goes stale; there are few versions, so the cache is
/// not bounded.
#[derive(Debug)]
pub(crate) struct Mappings {
    compiled: Mutex<HashMap<i64, MappingProgram>>,
    timeout: Duration,
}

impl Mappings {
    /// An empty cache whose programs run for at most `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            compiled: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn program(&self, mapping_id: i64, source: &str) -> Result<MappingProgram, String> {
        let mut compiled = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(program) = compiled.get(&mapping_id) {
            return Ok(program.clone());
        }
        // Compiling is cheap and bounded (programs are at most 64 KiB).
        let program = MappingProgram::compile(source).map_err(|e| e.to_string())?;
        compiled.insert(mapping_id, program.clone());
        Ok(program)
    }

    /// The body a delivery sends: `payload` through the mapping `mapping_id` (whose
    /// source is `source`), as JSON bytes; or the error that dead-letters it.
    ///
    /// The program runs on a thread of its own: a slow one cannot stall the runtime,
    /// and one that runs past the bound is reported as a failure. jaq cannot be
    /// interrupted, so such a thread runs on in the background (see
    /// `domain::mapping`'s known limit); it is not a tokio blocking thread, so it
    /// never holds up the runtime's shutdown.
    pub(crate) async fn body(
        &self,
        mapping_id: i64,
        source: &str,
        payload: Arc<serde_json::Value>,
    ) -> Result<Vec<u8>, String> {
        let program = self.program(mapping_id, source)?;
        let (done, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("mapping-{mapping_id}"))
            .stack_size(MAPPING_STACK_BYTES)
            .spawn(move || {
                let _ = done.send(program.run(&payload));
            })
            .map_err(|e| format!("cannot start the mapping: {e}"))?;
        match tokio::time::timeout(self.timeout, result).await {
            Err(_) => Err(format!(
                "jq program did not finish within {} ms",
                self.timeout.as_millis()
            )),
            Ok(Err(_)) => Err("jq program aborted".to_owned()),
            Ok(Ok(Err(mapping))) => Err(mapping.to_string()),
            Ok(Ok(Ok(value))) => serde_json::to_vec(&value).map_err(|e| e.to_string()),
        }
    }
}

/// Stack of a mapping thread: deep enough for any sane program's recursion.
const MAPPING_STACK_BYTES: usize = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Arc<serde_json::Value> {
        Arc::new(serde_json::json!({"order": {"id": 7, "total": 12}}))
    }

    #[tokio::test]
    async fn identity_and_transforms_produce_json_bodies() {
        let mappings = Mappings::new(Duration::from_secs(1));
        let body = mappings.body(1, ".", payload()).await;
        assert_eq!(
            body.as_deref().ok(),
            Some(&br#"{"order":{"id":7,"total":12}}"#[..])
        );
        let body = mappings.body(2, "{id: .order.id}", payload()).await;
        assert_eq!(body.as_deref().ok(), Some(&br#"{"id":7}"#[..]));
        // Cached by id: the same id keeps its first program.
        let body = mappings.body(2, "garbage ((", payload()).await;
        assert_eq!(body.as_deref().ok(), Some(&br#"{"id":7}"#[..]));
    }

    #[tokio::test]
    async fn failures_are_messages_not_panics() {
        let mappings = Mappings::new(Duration::from_millis(300));
        let err = mappings.body(3, r#"error("no way")"#, payload()).await;
        assert!(err.as_ref().is_err_and(|m| m.contains("no way")), "{err:?}");
        let err = mappings.body(4, "empty", payload()).await;
        assert!(err.is_err());
        let err = mappings.body(5, "(", payload()).await;
        assert!(err.is_err());
        let err = mappings.body(6, "def f: f; f", payload()).await;
        assert!(
            err.as_ref().is_err_and(|m| m.contains("did not finish")),
            "{err:?}"
        );
    }
}
