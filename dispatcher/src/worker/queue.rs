//! The dispatcher's statements on `retry_queue` live with every other writer's in
//! `projections::queue` (one module, one set of guards: see its documentation).

pub(crate) use projections::queue::{
    claim, defer, drop_stale, finish, next_due, release, reschedule, vacuum, ClaimRequest, Claimed,
};
