//! Value objects with parsing constructors.
//!
//! Each one validates on construction and on deserialization, so a value that
//! crosses a layer is known to be good. The log is kept forever: these rules may
//! be loosened, but tightening one needs an upcaster for the events that break it.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value failed validation; every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// Too short or too long.
    #[error("{field} must be {min} to {max} characters long, got {len}")]
    Length {
        /// The field.
        field: &'static str,
        /// Shortest allowed length.
        min: usize,
        /// Longest allowed length.
        max: usize,
        /// Length given.
        len: usize,
    },
    /// A character outside the allowed set.
    #[error("{field} may only contain {allowed}, found {found:?}")]
    Character {
        /// The field.
        field: &'static str,
        /// Description of the allowed characters.
        allowed: &'static str,
        /// The first offending character.
        found: char,
    },
    /// Not a URL at all.
    #[error("{field} is not a valid URL: {reason}")]
    Url {
        /// The field.
        field: &'static str,
        /// The URL parser's message.
        reason: String,
    },
    /// A URL with a scheme other than http/https.
    #[error("{field} must use http or https, not {scheme}")]
    UrlScheme {
        /// The field.
        field: &'static str,
        /// The rejected scheme.
        scheme: String,
    },
    /// A URL without a host.
    #[error("{field} must have a host")]
    UrlHost {
        /// The field.
        field: &'static str,
    },
    /// A URL carrying a user name or password.
    #[error("{field} must not contain credentials")]
    UrlCredentials {
        /// The field.
        field: &'static str,
    },
    /// A scope name that does not exist.
    #[error("{field}: unknown scope {scope:?}")]
    UnknownScope {
        /// The field.
        field: &'static str,
        /// The rejected scope.
        scope: String,
    },
    /// A malformed secret (`whsec_` + base64 of 24 to 64 bytes).
    #[error("{field} must be whsec_ followed by base64 of 24 to 64 bytes")]
    Secret {
        /// The field.
        field: &'static str,
    },
    /// A malformed hash (64 lowercase hex digits).
    #[error("{field} must be 64 lowercase hexadecimal digits")]
    Hash {
        /// The field.
        field: &'static str,
    },
}

impl ValueError {
    /// The name of the field that failed.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Length { field, .. }
            | Self::Character { field, .. }
            | Self::Url { field, .. }
            | Self::UrlScheme { field, .. }
            | Self::UrlHost { field }
            | Self::UrlCredentials { field }
            | Self::UnknownScope { field, .. }
            | Self::Secret { field }
            | Self::Hash { field } => field,
        }
    }
}

pub(crate) fn check_length(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
) -> Result<(), ValueError> {
    let len = s.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(ValueError::Length {
            field,
            min,
            max,
            len,
        })
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn check_chars(
    field: &'static str,
    s: &str,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), ValueError> {
    match s.chars().find(|c| !ok(*c)) {
        None => Ok(()),
        Some(found) => Err(ValueError::Character {
            field,
            allowed,
            found,
        }),
    }
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn parse(value: &str) -> Result<Self, ValueError> {
                let check: fn(&'static str, &str) -> Result<(), ValueError> = $check;
                check($field, value)?;
                Ok(Self(value.to_owned()))
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(value: String) -> Result<Self, ValueError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;

            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }
    };
}

string_value!(
    /// An event type such as `order.created`: `[A-Za-z0-9_.-]`, 1 to 128 characters.
    EventType,
    "event_type",
    |field, s| {
        check_length(field, s, 1, 128)?;
        check_chars(field, s, "letters, digits, '_', '.', '-'", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
        })
    }
);

string_value!(
    /// A system name (`source_system`, `target_system`, an endpoint's `system_name`):
    /// lowercase `[a-z0-9_.-]`, 1 to 64 characters.
    SystemName,
    "system_name",
    |field, s| {
        check_length(field, s, 1, 64)?;
        check_chars(field, s, "lowercase letters, digits, '_', '.', '-'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
        })
    }
);

string_value!(
    /// The producer's own id for an event: 1 to 200 characters, no control characters.
    EventKey,
    "event_key",
    |field, s| {
        check_length(field, s, 1, 200)?;
        check_chars(field, s, "printable characters", |c| !c.is_control())
    }
);

string_value!(
    /// A sync job's type, e.g. `dead_letter_replay`: lowercase `[a-z0-9_.-]`, 1 to 64.
    JobType,
    "job_type",
    |field, s| {
        check_length(field, s, 1, 64)?;
        check_chars(field, s, "lowercase letters, digits, '_', '.', '-'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
        })
    }
);

impl EventKey {
    /// The key used when the producer gave none: `evt_<event id>`. The caller
    /// resolves the key before it builds the aggregate id, so it knows it.
    pub fn for_event_id(id: crate::ids::EventId) -> Self {
        Self(format!("evt_{id}"))
    }
}

/// Longest endpoint URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// An endpoint URL: absolute http/https, a host, no credentials, at most 2048 bytes.
/// Whether its host resolves to a forbidden address is checked at delivery time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointUrl(url::Url);

impl EndpointUrl {
    /// Parses and checks `value`; the stored form is the URL parser's normalized one.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        const FIELD: &str = "url";
        if value.len() > MAX_URL_LEN {
            return Err(ValueError::Length {
                field: FIELD,
                min: 1,
                max: MAX_URL_LEN,
                len: value.chars().count(),
            });
        }
        let url = url::Url::parse(value).map_err(|e| ValueError::Url {
            field: FIELD,
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ValueError::UrlScheme {
                field: FIELD,
                scheme: url.scheme().to_owned(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ValueError::UrlHost { field: FIELD });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ValueError::UrlCredentials { field: FIELD });
        }
        if url.as_str().len() > MAX_URL_LEN {
            return Err(ValueError::Length {
                field: FIELD,
                min: 1,
                max: MAX_URL_LEN,
                len: url.as_str().chars().count(),
            });
        }
        Ok(Self(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, ValueError> {
        Self::parse(&value)
    }
}

impl From<EndpointUrl> for String {
    fn from(value: EndpointUrl) -> String {
        value.0.into()
    }
}

/// An event's payload: any JSON value (its size is limited by the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Payload(serde_json::Value);

impl Payload {
    /// Wraps a JSON value.
    pub fn new(value: serde_json::Value) -> Self {
        Self(value)
    }

    /// The JSON value.
    pub fn as_value(&self) -> &serde_json::Value {
        &self.0
    }

    /// Unwraps the JSON value.
    pub fn into_value(self) -> serde_json::Value {
        self.0
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_rules() {
        assert!(EventType::parse("order.created_v2-x").is_ok());
        assert!(EventType::parse(&"a".repeat(128)).is_ok());
        let err = EventType::parse("").expect_err("empty");
        assert!(matches!(
            err,
            ValueError::Length {
                field: "event_type",
                len: 0,
                ..
            }
        ));
        assert!(matches!(
            EventType::parse(&"a".repeat(129)),
            Err(ValueError::Length { .. })
        ));
        assert!(matches!(
            EventType::parse("order:created"),
            Err(ValueError::Character { found: ':', .. })
        ));
    }

    #[test]
    fn system_name_rules() {
        assert!(SystemName::parse("erp-1.main_x").is_ok());
        assert!(matches!(
            SystemName::parse("ERP"),
            Err(ValueError::Character {
                field: "system_name",
                found: 'E',
                ..
            })
        ));
        assert!(matches!(
            SystemName::parse(&"a".repeat(65)),
            Err(ValueError::Length { .. })
        ));
    }

    #[test]
    fn event_key_rules() {
        assert!(EventKey::parse("ord 123:ä/x").is_ok());
        assert!(matches!(
            EventKey::parse("a\nb"),
            Err(ValueError::Character {
                field: "event_key",
                ..
            })
        ));
        assert!(matches!(
            EventKey::parse(&"é".repeat(201)),
            Err(ValueError::Length { len: 201, .. })
        ));
        assert_eq!(
            EventKey::for_event_id(crate::ids::EventId::new(9)).as_str(),
            "evt_9"
        );
    }

    #[test]
    fn job_type_rules() {
        assert!(JobType::parse("dead_letter_replay").is_ok());
        assert!(JobType::parse("Replay").is_err());
    }

    #[test]
    fn endpoint_url_rules() {
        let url = EndpointUrl::parse("https://example.com/hooks?x=1").expect("valid");
        assert_eq!(url.as_str(), "https://example.com/hooks?x=1");
        assert!(EndpointUrl::parse("http://10.0.0.1:8080/").is_ok());
        let field_of = |s: &str| EndpointUrl::parse(s).expect_err(s).field();
        assert_eq!(field_of("ftp://example.com/"), "url");
        assert!(matches!(
            EndpointUrl::parse("ftp://example.com/"),
            Err(ValueError::UrlScheme { .. })
        ));
        assert!(matches!(
            EndpointUrl::parse("not a url"),
            Err(ValueError::Url { .. })
        ));
        assert!(matches!(
            EndpointUrl::parse("https://user:pw@example.com/"),
            Err(ValueError::UrlCredentials { .. })
        ));
        assert!(matches!(
            EndpointUrl::parse("https://user@example.com/"),
            Err(ValueError::UrlCredentials { .. })
        ));
        assert!(matches!(
            EndpointUrl::parse("file:///etc/passwd"),
            Err(ValueError::UrlScheme { .. })
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(
            EndpointUrl::parse(&long),
            Err(ValueError::Length { .. })
        ));
    }

    #[test]
    fn values_round_trip_through_json_and_validate_on_the_way_in() {
        let t = EventType::parse("a.b").expect("valid");
        let json = serde_json::to_string(&t).expect("json");
        assert_eq!(json, "\"a.b\"");
        assert_eq!(serde_json::from_str::<EventType>(&json).expect("back"), t);
        assert!(serde_json::from_str::<EventType>("\"a:b\"").is_err());
        let url: EndpointUrl = serde_json::from_str("\"https://x.io/\"").expect("url");
        assert_eq!(url.as_str(), "https://x.io/");
        assert!(serde_json::from_str::<EndpointUrl>("\"gopher://x\"").is_err());
    }
}
