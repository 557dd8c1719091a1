//! Ordered delivery (issue #14, ADR 0017): an endpoint's [`Ordering`], the key
//! path it is computed with ([`KeyPath`], a jq *path* evaluated in-process), and
//! the [`DeliveryOrder`] a delivery carries from its `DeliveryScheduled`.
//!
//! - `none`: deliveries go in parallel (the default, as before).
//! - `endpoint`: one at a time, in the global order of their events.
//! - `key`: deliveries with the same key (the path's value over the event) one at a
//!   time in order; different keys in parallel.
//!
//! The head-of-line rule: while a line's head is retrying, the ones behind wait;
//! when it is dead-lettered, [`HeadOfLine::Blocks`] keeps the line waiting until an
//! operator requeues or skips it, [`HeadOfLine::Skips`] lets the next one go.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Longest key path accepted, in bytes.
pub const MAX_KEY_PATH_BYTES: usize = 256;
/// Longest order key kept; longer values are cut (on a character boundary).
pub const MAX_ORDER_KEY_BYTES: usize = 512;

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(i64),
}

/// A jq path (`.payload.customer_id`, `.payload["customer id"]`, `.payload.items[0]`)
/// over the event `{event_type, source_system, event_key, payload}`. Only paths, so
/// it runs in-process, safely, in the router: no program, no loop, no allocation
/// beyond the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    source: String,
    steps: Vec<Step>,
}

/// Why a key path was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid key path at byte {at}: {message} (a jq path such as .payload.customer_id, .payload[\"id\"] or .payload.items[0])")]
pub struct KeyPathError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

fn path_error(at: usize, message: &str) -> KeyPathError {
    KeyPathError {
        at,
        message: message.to_owned(),
    }
}

impl KeyPath {
    /// Parses a jq path: `.` followed by `.name`, `["name"]` or `[n]` steps (the
    /// first `.name` shares the leading dot). `.` alone is the whole event.
    pub fn parse(source: &str) -> Result<Self, KeyPathError> {
        let text = source.trim();
        if text.len() > MAX_KEY_PATH_BYTES {
            return Err(path_error(
                MAX_KEY_PATH_BYTES,
                "too long (256 bytes at most)",
            ));
        }
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'.') {
            return Err(path_error(0, "must start with '.'"));
        }
        let mut steps = Vec::new();
        let mut i = 0;
        let mut first = true;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    i += 1;
                    if i < bytes.len() && bytes[i] == b'[' {
                        continue;
                    }
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                    {
                        i += 1;
                    }
                    if start == i {
                        if first && i == bytes.len() {
                            break;
                        }
                        return Err(path_error(start, "expected a field name"));
                    }
                    if bytes[start].is_ascii_digit() {
                        return Err(path_error(start, "a field name cannot start with a digit"));
                    }
                    steps.push(Step::Field(text[start..i].to_owned()));
                }
                b'[' => {
                    i += 1;
                    if i < bytes.len() && bytes[i] == b'"' {
                        let start = i;
                        i += 1;
                        while i < bytes.len() && bytes[i] != b'"' {
                            if bytes[i] == b'\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                        if i >= bytes.len() {
                            return Err(path_error(start, "unterminated string"));
                        }
                        let name: String = serde_json::from_str(&text[start..=i])
                            .map_err(|_| path_error(start, "invalid string"))?;
                        i += 1;
                        steps.push(Step::Field(name));
                    } else {
                        let start = i;
                        if i < bytes.len() && bytes[i] == b'-' {
                            i += 1;
                        }
                        while i < bytes.len() && bytes[i].is_ascii_digit() {
                            i += 1;
                        }
                        let n: i64 = text[start..i]
                            .parse()
                            .map_err(|_| path_error(start, "expected a string or an integer"))?;
                        steps.push(Step::Index(n));
                    }
                    if i >= bytes.len() || bytes[i] != b']' {
                        return Err(path_error(i, "expected ']'"));
                    }
                    i += 1;
                }
                _ => return Err(path_error(i, "expected '.' or '['")),
            }
            first = false;
        }
        Ok(Self {
            source: text.to_owned(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The value at the path (jq's semantics for paths: a missing field, an index
    /// out of range or a step into a scalar is `null`; negative indices count from
    /// the end).
    pub fn eval<'v>(&self, value: &'v Value) -> &'v Value {
        let mut at = value;
        for step in &self.steps {
            let next = match (step, at) {
                (Step::Field(name), Value::Object(map)) => map.get(name),
                (Step::Index(n), Value::Array(items)) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let i = if *n < 0 { len + n } else { *n };
                    usize::try_from(i).ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            match next {
                Some(v) => at = v,
                None => return &Value::Null,
            }
        }
        at
    }

    /// The order key of an event: the path's value, a string as itself, anything
    /// else (numbers, `null` for a missing value, objects) as its JSON text; cut to
    /// [`MAX_ORDER_KEY_BYTES`].
    pub fn key_of(&self, event: &Value) -> String {
        let key = match self.eval(event) {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let key = crate::storable::replace_nul(&key);
        crate::values::truncate_utf8(&key, MAX_ORDER_KEY_BYTES).to_owned()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for KeyPath {
    type Err = KeyPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for KeyPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for KeyPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a line does when its head is dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadOfLine {
    /// The line waits until an operator requeues or skips the dead letter (default).
    #[default]
    Blocks,
    /// The next delivery of the line goes.
    Skips,
}

impl HeadOfLine {
    /// `blocks` or `skips`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blocks => "blocks",
            Self::Skips => "skips",
        }
    }
}

/// An endpoint's ordering of its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Ordering {
    /// In parallel, up to the endpoint's concurrency (the default).
    #[default]
    None,
    /// One at a time, in the global order of their events.
    Endpoint {
        /// What a dead-lettered head does.
        on_dead_letter: HeadOfLine,
    },
    /// One at a time per key, in order; different keys in parallel.
    Key {
        /// The key's path over the event.
        key: KeyPath,
        /// What a dead-lettered head does.
        on_dead_letter: HeadOfLine,
    },
}

impl Ordering {
    /// `none`, `endpoint` or `key` (the `webhook_endpoints.ordering` column).
    pub fn mode(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Endpoint { .. } => "endpoint",
            Self::Key { .. } => "key",
        }
    }

    /// The key path, for `key`.
    pub fn key_path(&self) -> Option<&KeyPath> {
        match self {
            Self::Key { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The head-of-line rule, for an ordered endpoint.
    pub fn on_dead_letter(&self) -> Option<HeadOfLine> {
        match self {
            Self::None => None,
            Self::Endpoint { on_dead_letter } | Self::Key { on_dead_letter, .. } => {
                Some(*on_dead_letter)
            }
        }
    }

    /// The ordering back from its columns (`ordering`, `ordering_key`,
    /// `ordering_on_dead_letter`); `None` for values no event writes.
    pub fn from_columns(
        mode: &str,
        key: Option<&str>,
        on_dead_letter: Option<&str>,
    ) -> Option<Self> {
        let on_dead_letter = match on_dead_letter {
            None | Some("blocks") => HeadOfLine::Blocks,
            Some("skips") => HeadOfLine::Skips,
            Some(_) => return None,
        };
        match mode {
            "none" => Some(Self::None),
            "endpoint" => Some(Self::Endpoint { on_dead_letter }),
            "key" => Some(Self::Key {
                key: KeyPath::parse(key?).ok()?,
                on_dead_letter,
            }),
            _ => None,
        }
    }

    /// The place in its line of a delivery of the event `subject` (as
    /// [`order_subject`] builds it) at `(tx, position)` in the log: `None` unordered.
    pub fn order_of(&self, subject: &Value, tx: i64, position: i64) -> Option<DeliveryOrder> {
        let (key, on_dead_letter) = match self {
            Self::None => return None,
            Self::Endpoint { on_dead_letter } => (String::new(), *on_dead_letter),
            Self::Key {
                key,
                on_dead_letter,
            } => (key.key_of(subject), *on_dead_letter),
        };
        Some(DeliveryOrder {
            key,
            tx,
            position,
            on_dead_letter,
        })
    }
}

/// The value a key path is evaluated over: `{event_type, source_system, event_key,
/// payload}` of the `EventReceived`.
pub fn order_subject(
    event_type: &str,
    source_system: &str,
    event_key: &str,
    payload: &Value,
) -> Value {
    serde_json::json!({
        "event_type": event_type,
        "source_system": source_system,
        "event_key": event_key,
        "payload": payload,
    })
}

/// A delivery's place in its line: its key (empty for `endpoint` ordering) and the
/// place of its `EventReceived` in the log (`tx`, `position`), which orders the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOrder {
    /// The line's key.
    pub key: String,
    /// The event's transaction id in the log.
    pub tx: i64,
    /// The event's position in the log.
    pub position: i64,
    /// What the line does if this delivery is dead-lettered.
    pub on_dead_letter: HeadOfLine,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_and_evaluate_like_jq() {
        let event = json!({"payload": {"customer_id": "c-1", "n": 7, "a b": true,
            "items": [{"id": 1}, {"id": 2}]}});
        let cases = [
            (".payload.customer_id", json!("c-1")),
            (".payload.n", json!(7)),
            (".payload[\"a b\"]", json!(true)),
            (".payload.items[1].id", json!(2)),
            (".payload.items[-1].id", json!(2)),
            (".payload.items[5]", Value::Null),
            (".payload.missing.deeper", Value::Null),
            (".payload.customer_id.x", Value::Null),
            (".[\"payload\"].n", json!(7)),
        ];
        for (path, want) in cases {
            let parsed = KeyPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(parsed.eval(&event), &want, "{path}");
            assert_eq!(parsed.as_str(), path);
        }
        assert_eq!(
            KeyPath::parse(".").map(|p| p.eval(&event).clone()),
            Ok(event.clone())
        );
    }

    #[test]
    fn anything_but_a_path_is_refused() {
        for bad in [
            "",
            "payload",
            ".payload | length",
            ".a[",
            ".a[\"x\"",
            ".a.",
            ".a..b",
            ".1a",
            ".a[x]",
            "..",
            ".a[]",
            ".a?",
            "$x",
        ] {
            assert!(KeyPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(KeyPath::parse(&format!(".{}", "a".repeat(300))).is_err());
    }

    #[test]
    fn keys_are_strings_or_json_text() {
        let path = KeyPath::parse(".payload.k").expect("path");
        assert_eq!(path.key_of(&json!({"payload": {"k": "x"}})), "x");
        assert_eq!(path.key_of(&json!({"payload": {"k": 12}})), "12");
        assert_eq!(path.key_of(&json!({"payload": {}})), "null");
        let long = "é".repeat(400);
        let key = path.key_of(&json!({"payload": {"k": long}}));
        assert!(key.len() <= MAX_ORDER_KEY_BYTES && key.is_char_boundary(key.len()));
    }

    #[test]
    fn ordering_round_trips_through_json_and_columns() {
        let key = Ordering::Key {
            key: KeyPath::parse(".payload.customer_id").expect("path"),
            on_dead_letter: HeadOfLine::Skips,
        };
        let text = serde_json::to_value(&key).expect("json");
        assert_eq!(
            text,
            json!({"mode": "key", "key": ".payload.customer_id", "on_dead_letter": "skips"})
        );
        assert_eq!(
            serde_json::from_value::<Ordering>(text).ok(),
            Some(key.clone())
        );
        assert_eq!(
            Ordering::from_columns("key", Some(".payload.customer_id"), Some("skips")),
            Some(key)
        );
        assert_eq!(
            Ordering::from_columns("none", None, None),
            Some(Ordering::None)
        );
        assert_eq!(
            serde_json::to_value(Ordering::None).expect("json"),
            json!({"mode": "none"})
        );
    }
}
