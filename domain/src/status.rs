//! Status enums, their seeded `domain_*_status` rows, and their allowed transitions.
//!
//! The ids and codes here are the rows the migrations seed; they must never
//! change. Each enum's `can_transition` is the one place its transitions are
//! written; the aggregates only ever move along them (checked by property tests).

use serde::{Deserialize, Serialize};

macro_rules! status_enum {
    (
        $(#[$doc:meta])* $name:ident, $table:literal,
        { $($(#[$vdoc:meta])* $variant:ident = $id:literal, $code:literal;)+ }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The lookup table this status is a row of.
            pub const TABLE: &'static str = $table;
            /// Every status, in id order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The seeded row id (`status_id` columns).
            pub const fn id(self) -> i16 {
                match self { $($name::$variant => $id,)+ }
            }

            /// The seeded row code.
            pub const fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The status with seeded row id `id`.
            pub fn from_id(id: i16) -> Option<Self> {
                match id { $($id => Some($name::$variant),)+ _ => None }
            }

            /// The status with seeded row code `code`.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Whether no transition leaves this status.
            pub fn is_terminal(self) -> bool {
                Self::ALL.iter().all(|to| !Self::can_transition(self, *to))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

status_enum!(
    /// `domain_api_key_status`.
    ApiKeyStatus, "domain_api_key_status", {
        /// The key authenticates.
        Active = 1, "active";
        /// The key no longer authenticates (terminal).
        Revoked = 2, "revoked";
    }
);

status_enum!(
    /// `domain_endpoint_status`.
    EndpointStatus, "domain_endpoint_status", {
        /// Deliveries are sent.
        Active = 1, "active";
        /// Deliveries wait (manual, circuit breaker or 410 Gone); can be re-enabled.
        Disabled = 2, "disabled";
        /// Gone for good (terminal).
        Deleted = 3, "deleted";
    }
);

status_enum!(
    /// `domain_event_status`.
    EventStatus, "domain_event_status", {
        /// Accepted, not yet routed.
        Received = 1, "received";
        /// Fanned out to one or more deliveries.
        Routed = 2, "routed";
        /// No endpoint subscribed to it when it was routed (terminal).
        Unroutable = 3, "unroutable";
        /// Every delivery succeeded or was cancelled, at least one succeeded.
        Delivered = 4, "delivered";
        /// At least one delivery is dead-lettered.
        Failed = 5, "failed";
    }
);

status_enum!(
    /// `domain_delivery_status`.
    DeliveryStatus, "domain_delivery_status", {
        /// Scheduled (or requeued), no failed attempt in this cycle yet.
        Pending = 1, "pending";
        /// At least one attempt failed; the next is scheduled.
        Retrying = 2, "retrying";
        /// Delivered (terminal).
        Succeeded = 3, "succeeded";
        /// Given up; waits in the dead-letter queue for a requeue.
        DeadLettered = 4, "dead_lettered";
        /// Cancelled by an operator; may be requeued.
        Cancelled = 5, "cancelled";
    }
);

status_enum!(
    /// `domain_job_status`.
    JobStatus, "domain_job_status", {
        /// Created, not started (reserved: `SyncJob::Start` begins in `running`).
        Pending = 1, "pending";
        /// Working.
        Running = 2, "running";
        /// Done (terminal).
        Succeeded = 3, "succeeded";
        /// Stopped by an error (terminal).
        Failed = 4, "failed";
        /// Stopped by an operator (terminal).
        Cancelled = 5, "cancelled";
    }
);

impl ApiKeyStatus {
    /// The allowed transitions of an API key.
    pub fn can_transition(self, to: Self) -> bool {
        matches!((self, to), (Self::Active, Self::Revoked))
    }
}

impl EndpointStatus {
    /// The allowed transitions of an endpoint.
    pub fn can_transition(self, to: Self) -> bool {
        use EndpointStatus::*;
        matches!(
            (self, to),
            (Active, Disabled) | (Disabled, Active) | (Active | Disabled, Deleted)
        )
    }
}

impl EventStatus {
    /// The allowed transitions of an integration event. `Delivered` and `Failed`
    /// are rolled up from its deliveries by the `integration_events` projection
    /// ([`EventStatus::rollup`]); requeueing a dead-lettered or cancelled delivery
    /// moves the event back to `Routed`.
    pub fn can_transition(self, to: Self) -> bool {
        use EventStatus::*;
        matches!(
            (self, to),
            (Received, Routed | Unroutable)
                | (Routed, Delivered | Failed)
                | (Failed, Routed | Delivered)
                | (Delivered, Routed | Failed)
        )
    }

    /// The status of a routed event given its deliveries' statuses: `Failed` if
    /// any is dead-lettered, else `Delivered` once none is pending or retrying and
    /// one succeeded, else `Routed`. With no deliveries it is `Unroutable`.
    pub fn rollup(deliveries: impl IntoIterator<Item = DeliveryStatus>) -> Self {
        let (mut any, mut open, mut dead, mut succeeded) = (false, false, false, false);
        for status in deliveries {
            any = true;
            match status {
                DeliveryStatus::Pending | DeliveryStatus::Retrying => open = true,
                DeliveryStatus::DeadLettered => dead = true,
                DeliveryStatus::Succeeded => succeeded = true,
                DeliveryStatus::Cancelled => {}
            }
        }
        match (any, dead, open, succeeded) {
            (false, ..) => EventStatus::Unroutable,
            (_, true, ..) => EventStatus::Failed,
            (_, _, false, true) => EventStatus::Delivered,
            _ => EventStatus::Routed,
        }
    }
}

impl DeliveryStatus {
    /// The allowed transitions of a delivery. A failed attempt while retrying
    /// stays in `Retrying`; dead letters and cancelled deliveries can be requeued.
    pub fn can_transition(self, to: Self) -> bool {
        use DeliveryStatus::*;
        matches!(
            (self, to),
            (
                Pending | Retrying,
                Retrying | Succeeded | DeadLettered | Cancelled
            ) | (DeadLettered | Cancelled, Pending)
        )
    }

    /// Whether no attempt may be made (`Succeeded`, `DeadLettered`, `Cancelled`).
    pub fn is_final_for_attempts(self) -> bool {
        !matches!(self, DeliveryStatus::Pending | DeliveryStatus::Retrying)
    }
}

impl JobStatus {
    /// The allowed transitions of a sync job (`Running -> Running` is progress).
    pub fn can_transition(self, to: Self) -> bool {
        use JobStatus::*;
        matches!(
            (self, to),
            (Pending, Running | Failed | Cancelled)
                | (Running, Running | Succeeded | Failed | Cancelled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows<T: Copy>(
        all: &[T],
        id: impl Fn(T) -> i16,
        code: impl Fn(T) -> &'static str,
    ) -> Vec<(i16, &'static str)> {
        all.iter().map(|s| (id(*s), code(*s))).collect()
    }

    #[test]
    fn ids_and_codes_match_the_seeded_rows() {
        assert_eq!(
            rows(ApiKeyStatus::ALL, ApiKeyStatus::id, ApiKeyStatus::code),
            [(1, "active"), (2, "revoked")]
        );
        assert_eq!(
            rows(
                EndpointStatus::ALL,
                EndpointStatus::id,
                EndpointStatus::code
            ),
            [(1, "active"), (2, "disabled"), (3, "deleted")]
        );
        assert_eq!(
            rows(EventStatus::ALL, EventStatus::id, EventStatus::code),
            [
                (1, "received"),
                (2, "routed"),
                (3, "unroutable"),
                (4, "delivered"),
                (5, "failed")
            ]
        );
        assert_eq!(
            rows(
                DeliveryStatus::ALL,
                DeliveryStatus::id,
                DeliveryStatus::code
            ),
            [
                (1, "pending"),
                (2, "retrying"),
                (3, "succeeded"),
                (4, "dead_lettered"),
                (5, "cancelled")
            ]
        );
        assert_eq!(
            rows(JobStatus::ALL, JobStatus::id, JobStatus::code),
            [
                (1, "pending"),
                (2, "running"),
                (3, "succeeded"),
                (4, "failed"),
                (5, "cancelled")
            ]
        );
    }

    #[test]
    fn ids_codes_and_serde_agree() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::from_id(s.id()), Some(*s));
            assert_eq!(DeliveryStatus::from_code(s.code()), Some(*s));
            assert_eq!(
                serde_json::to_value(s).expect("json"),
                serde_json::json!(s.code())
            );
        }
        assert_eq!(JobStatus::from_id(0), None);
        assert_eq!(EventStatus::from_code("nope"), None);
    }

    #[test]
    fn terminal_statuses() {
        let terminal = |all: Vec<(bool, &'static str)>| {
            all.into_iter()
                .filter(|(t, _)| *t)
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            terminal(
                ApiKeyStatus::ALL
                    .iter()
                    .map(|s| (s.is_terminal(), s.code()))
                    .collect()
            ),
            ["revoked"]
        );
        assert_eq!(
            terminal(
                EndpointStatus::ALL
                    .iter()
                    .map(|s| (s.is_terminal(), s.code()))
                    .collect()
            ),
            ["deleted"]
        );
        assert_eq!(
            terminal(
                DeliveryStatus::ALL
                    .iter()
                    .map(|s| (s.is_terminal(), s.code()))
                    .collect()
            ),
            ["succeeded"]
        );
        assert_eq!(
            terminal(
                JobStatus::ALL
                    .iter()
                    .map(|s| (s.is_terminal(), s.code()))
                    .collect()
            ),
            ["succeeded", "failed", "cancelled"]
        );
        assert_eq!(
            terminal(
                EventStatus::ALL
                    .iter()
                    .map(|s| (s.is_terminal(), s.code()))
                    .collect()
            ),
            ["unroutable"]
        );
    }

    #[test]
    fn delivery_transitions() {
        use DeliveryStatus::*;
        assert!(Pending.can_transition(Succeeded));
        assert!(Retrying.can_transition(Retrying));
        assert!(DeadLettered.can_transition(Pending));
        assert!(Cancelled.can_transition(Pending));
        assert!(!Pending.can_transition(Pending));
        assert!(!Succeeded.can_transition(Pending));
        assert!(!DeadLettered.can_transition(Succeeded));
        assert!(!Cancelled.can_transition(Retrying));
    }

    #[test]
    fn endpoint_api_key_and_job_transitions() {
        assert!(EndpointStatus::Disabled.can_transition(EndpointStatus::Active));
        assert!(!EndpointStatus::Deleted.can_transition(EndpointStatus::Active));
        assert!(!EndpointStatus::Active.can_transition(EndpointStatus::Active));
        assert!(!ApiKeyStatus::Revoked.can_transition(ApiKeyStatus::Active));
        assert!(JobStatus::Running.can_transition(JobStatus::Running));
        assert!(!JobStatus::Failed.can_transition(JobStatus::Running));
        assert!(!JobStatus::Succeeded.can_transition(JobStatus::Cancelled));
    }

    #[test]
    fn event_status_rollup() {
        use DeliveryStatus::*;
        assert_eq!(EventStatus::rollup([]), EventStatus::Unroutable);
        assert_eq!(
            EventStatus::rollup([Pending, Succeeded]),
            EventStatus::Routed
        );
        assert_eq!(
            EventStatus::rollup([Succeeded, Cancelled]),
            EventStatus::Delivered
        );
        assert_eq!(
            EventStatus::rollup([Retrying, DeadLettered]),
            EventStatus::Failed
        );
        assert_eq!(EventStatus::rollup([Cancelled]), EventStatus::Routed);
        assert!(EventStatus::Received.can_transition(EventStatus::Routed));
        assert!(EventStatus::Failed.can_transition(EventStatus::Routed));
        assert!(!EventStatus::Unroutable.can_transition(EventStatus::Routed));
    }
}
