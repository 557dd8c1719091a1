//! API key scopes and permission sets.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// One permission an API key may hold. `admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Scope {
    /// `events:write`: submit integration events.
    EventsWrite,
    /// `events:read`: read integration events.
    EventsRead,
    /// `endpoints:read`: read endpoints.
    EndpointsRead,
    /// `endpoints:write`: register, change, disable, delete endpoints.
    EndpointsWrite,
    /// `mappings:read`: read mappings.
    MappingsRead,
    /// `mappings:write`: publish and retire mappings.
    MappingsWrite,
    /// `deliveries:read`: read deliveries, the retry queue and dead letters.
    DeliveriesRead,
    /// `deliveries:write`: requeue and cancel deliveries.
    DeliveriesWrite,
    /// `audit:read`: read the event log and verify it.
    AuditRead,
    /// `keys:admin`: issue and revoke API keys.
    KeysAdmin,
    /// `jobs:write`: start sync jobs (replays, rebuilds).
    JobsWrite,
    /// `admin`: everything.
    Admin,
}

impl Scope {
    /// Every scope, in declaration order.
    pub const ALL: [Scope; 12] = [
        Scope::EventsWrite,
        Scope::EventsRead,
        Scope::EndpointsRead,
        Scope::EndpointsWrite,
        Scope::MappingsRead,
        Scope::MappingsWrite,
        Scope::DeliveriesRead,
        Scope::DeliveriesWrite,
        Scope::AuditRead,
        Scope::KeysAdmin,
        Scope::JobsWrite,
        Scope::Admin,
    ];

    /// The scope's wire name, e.g. `events:write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::EventsRead => "events:read",
            Scope::EndpointsRead => "endpoints:read",
            Scope::EndpointsWrite => "endpoints:write",
            Scope::MappingsRead => "mappings:read",
            Scope::MappingsWrite => "mappings:write",
            Scope::DeliveriesRead => "deliveries:read",
            Scope::DeliveriesWrite => "deliveries:write",
            Scope::AuditRead => "audit:read",
            Scope::KeysAdmin => "keys:admin",
            Scope::JobsWrite => "jobs:write",
            Scope::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| ValueError::UnknownScope {
                field: "permissions",
                scope: value.chars().take(64).collect(),
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Scope {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, ValueError> {
        Self::parse(&value)
    }
}

impl From<Scope> for &'static str {
    fn from(scope: Scope) -> Self {
        scope.as_str()
    }
}

impl std::str::FromStr for Scope {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

/// A set of scopes; serializes as a sorted JSON array of scope names
/// (the `api_keys.permissions_json` column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permissions(BTreeSet<Scope>);

impl Permissions {
    /// Parses scope names; any unknown name is an error.
    pub fn parse<I, S>(names: I) -> Result<Self, ValueError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names
            .into_iter()
            .map(|n| Scope::parse(n.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether a key with these permissions may act under `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&scope)
    }

    /// The first of `requested` that these permissions may not grant, if any: a key
    /// grants only scopes it holds itself, and `admin` only when it holds `admin`
    /// (which reaches every scope).
    pub fn first_not_grantable(&self, requested: &Permissions) -> Option<Scope> {
        requested.iter().find(|scope| !self.allows(*scope))
    }

    /// Whether no scope is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes held, sorted.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for Permissions {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        assert!(matches!(
            Scope::parse("events:delete"),
            Err(ValueError::UnknownScope {
                field: "permissions",
                ..
            })
        ));
    }

    #[test]
    fn admin_allows_everything_and_others_only_themselves() {
        let admin: Permissions = [Scope::Admin].into_iter().collect();
        assert!(Scope::ALL.into_iter().all(|s| admin.allows(s)));
        let some = Permissions::parse(["events:write", "events:read"]).expect("valid");
        assert!(some.allows(Scope::EventsWrite));
        assert!(!some.allows(Scope::KeysAdmin));
        assert!(!some.allows(Scope::Admin));
    }

    #[test]
    fn a_key_grants_only_what_it_holds_and_admin_only_by_admin() {
        let keys_admin = Permissions::parse(["keys:admin", "events:read"]).expect("valid");
        let wants = |names: &[&str]| Permissions::parse(names).expect("valid");
        assert_eq!(
            keys_admin.first_not_grantable(&wants(&["admin"])),
            Some(Scope::Admin)
        );
        assert_eq!(
            keys_admin.first_not_grantable(&wants(&["events:read", "events:write"])),
            Some(Scope::EventsWrite)
        );
        assert_eq!(
            keys_admin.first_not_grantable(&wants(&["events:read", "keys:admin"])),
            None
        );
        let admin = wants(&["admin"]);
        assert_eq!(
            admin.first_not_grantable(&wants(&["admin", "jobs:write"])),
            None
        );
    }

    #[test]
    fn permissions_serialize_as_a_sorted_array() {
        let p = Permissions::parse(["jobs:write", "events:write", "events:write"]).expect("valid");
        assert_eq!(
            serde_json::to_value(&p).expect("json"),
            serde_json::json!(["events:write", "jobs:write"])
        );
        assert!(serde_json::from_str::<Permissions>("[\"nope\"]").is_err());
    }
}
