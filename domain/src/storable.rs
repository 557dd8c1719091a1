//! What the log may hold: text that every read model can store.
//!
//! The event log keeps payloads as `json`, which takes any JSON text; the read models
//! keep them as `jsonb` and `text`, which refuse the NUL character (`\u0000` in a
//! JSON string or key, a 0 byte in text). An event the log takes but a projection
//! cannot apply would hold every read model behind it, so nothing with a NUL may
//! reach the log. Input from clients (payloads, names, programs, reasons) is refused
//! with a coded error naming the place ([`find_nul`]); text the ledger records from
//! elsewhere (a receiver's response, an error message) is stored with each NUL
//! replaced by U+FFFD ([`replace_nul`]). The event store refuses the rest, as a last
//! line.
//!
//! Other values `jsonb` refuses cannot reach the log: unpaired surrogates and numbers
//! outside `f64` are already rejected by the JSON parser.

use std::borrow::Cow;

use serde_json::Value;

/// The character PostgreSQL's `text` and `jsonb` refuse.
pub const NUL: char = '\0';

/// The JSON path (`payload.a[2]`, rooted at `root`) of the first string or object key
/// in `value` holding a NUL character, if any.
pub fn find_nul(value: &Value, root: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains(NUL).then(|| root.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, &format!("{root}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains(NUL) {
                Some(format!("{root}.{}", key.replace(NUL, "\\u0000")))
            } else {
                find_nul(item, &format!("{root}.{key}"))
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// Whether `value` holds no NUL character in any string or key.
pub fn is_storable(value: &Value) -> bool {
    find_nul(value, "").is_none()
}

/// `text` with every NUL replaced by U+FFFD, borrowed when there is none.
pub fn replace_nul(text: &str) -> Cow<'_, str> {
    if text.contains(NUL) {
        Cow::Owned(text.replace(NUL, "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_is_found_in_strings_and_keys_at_any_depth() {
        assert_eq!(
            find_nul(&json!({"a": [1, "x\u{0}"]}), "payload").as_deref(),
            Some("payload.a[1]")
        );
        assert_eq!(
            find_nul(&json!({"k\u{0}": 1}), "p").as_deref(),
            Some("p.k\\u0000")
        );
        assert_eq!(find_nul(&json!("\u{0}"), "p").as_deref(), Some("p"));
        assert!(is_storable(&json!({"a": ["\\u0000", 1.5, null, true]})));
        assert!(!is_storable(&json!([{"b": "\u{0}"}])));
    }

    #[test]
    fn replacing_nul_keeps_other_text_as_it_is() {
        assert!(matches!(replace_nul("plain"), Cow::Borrowed("plain")));
        assert_eq!(replace_nul("a\u{0}b\u{0}"), "a\u{FFFD}b\u{FFFD}");
    }
}
