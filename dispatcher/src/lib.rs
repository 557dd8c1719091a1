//! The delivery side of Integration Ledger: getting a signed webhook to an
//! endpoint, safely, and reporting what happened.
//!
//! The dispatcher never decides what an outcome means (retry, dead letter,
//! circuit breaker): that is the domain's `Delivery` aggregate. It only sends
//! and describes, and refuses targets the service must never reach.
//!
//! # Layout
//!
//! - [`ssrf`]: the SSRF guard. [`TargetPolicy`] (allowed CIDRs from
//!   `LEDGER_ALLOWED_TARGETS`) says which addresses are forbidden and checks a
//!   URL; [`GuardedResolver`] resolves host names for the HTTP client and hands
//!   it only checked addresses, so the connection goes where the check looked.
//! - [`sender`]: the pooled outbound HTTP client. [`Sender::send`] POSTs one
//!   [`OutboundRequest`] with its Standard Webhooks headers and returns an
//!   [`Outcome`] (status, duration, `Retry-After`, a bounded body excerpt, or a
//!   [`SendError`]) without ever failing or following a redirect.
//!
//! Still to come (issue 5): claiming `retry_queue` rows with leases, the
//! concurrency limits, recording outcomes and graceful shutdown.

#![forbid(unsafe_code)]

pub mod sender;
pub mod ssrf;

pub use sender::{
    OutboundRequest, Outcome, SendError, Sender, SenderConfig, WebhookHeaders, USER_AGENT,
};
pub use ssrf::{GuardedResolver, SsrfError, TargetPolicy};
