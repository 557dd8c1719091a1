//! What the router and the dispatcher can be told, with defaults and the checks
//! that make bad values fail at start.

use std::time::Duration;

use domain::circuit::CircuitBreaker;
use projections::subscription::SubscriptionConfig;

use crate::sandbox::WorkerCommand;
use crate::sender::SenderConfig;
use crate::ssrf::TargetPolicy;

/// A setting is out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dispatcher configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The setting's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn check(ok: bool, field: &'static str, reason: &'static str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError { field, reason })
    }
}

/// How the router reads the log and issues its commands.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Batch size, poll interval and retry delay of the router's subscription.
    pub subscription: SubscriptionConfig,
    /// How many events of one batch are routed at the same time (each routing is
    /// one `RecordRouting` plus one `Schedule` per endpoint, each its own commit).
    pub concurrency: usize,
    /// The checkpoint name of the read-model projector (default
    /// `projections::read_models::NAME`). When set, an event is routed only once
    /// that projector has applied every `Endpoint` and `EventMapping` event that
    /// precedes it in the global order (the rest of the log it need not wait for),
    /// so the router sees at least every endpoint and mapping change before the
    /// event; a router without a running projector then waits when there is such a
    /// change. `None` routes on whatever the read models hold.
    pub wait_for_projection: Option<String>,
    /// How long one batch waits for that projector before giving up and retrying
    /// (the subscription's retry delay later).
    pub projection_wait: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            subscription: SubscriptionConfig {
                batch_size: 500,
                ..SubscriptionConfig::default()
            },
            concurrency: 256,
            wait_for_projection: Some(projections::read_models::NAME.to_owned()),
            projection_wait: Duration::from_secs(5),
        }
    }
}

impl RouterConfig {
    /// Checks the values; called by [`crate::run_router`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.concurrency >= 1,
            "router_concurrency",
            "must be at least 1",
        )?;
        check(
            self.subscription.batch_size >= 1,
            "router_batch_size",
            "must be at least 1",
        )?;
        check(
            !self.subscription.poll_interval.is_zero(),
            "router_poll_interval",
            "must be positive",
        )
    }
}

/// The smallest address space a mapping child can start in (its program, thread
/// stacks and allocator arenas), in MiB.
pub const MIN_MAPPING_MEMORY_MIB: u64 = 256;

/// How the dispatcher claims, sends and records deliveries.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Deliveries in flight at once in this process (claimed and not yet recorded).
    pub concurrency: usize,
    /// Deliveries to one endpoint in flight at once in this process.
    pub per_endpoint_concurrency: usize,
    /// Most rows claimed by one query.
    pub batch_size: usize,
    /// How long a claim holds a row. Must outlast one attempt (mapping, sending,
    /// recording): a row whose lease expires is claimed again by another dispatcher,
    /// which is how a killed dispatcher's rows are taken over.
    pub lease: Duration,
    /// How often the queue is looked at without a notification.
    pub poll_interval: Duration,
    /// While claims find nothing and no notification comes, the poll interval
    /// doubles up to this (at or below `poll_interval`: no back-off).
    pub idle_poll_max: Duration,
    /// How long to wait after a database error before claiming again.
    pub error_backoff: Duration,
    /// The outbound HTTP client (connect and total timeouts, body excerpt bound).
    /// An endpoint's own `timeout_ms` applies when it is shorter than `total_timeout`.
    pub sender: SenderConfig,
    /// Which special-purpose addresses webhooks may reach (`LEDGER_ALLOWED_TARGETS`).
    pub target_policy: TargetPolicy,
    /// When a failing endpoint is disabled.
    pub circuit_breaker: CircuitBreaker,
    /// Bound on running one mapping; a mapping that takes longer dead-letters its
    /// delivery as a mapping error.
    pub mapping_timeout: Duration,
    /// The program that runs mappings in child processes (the mapping sandbox,
    /// ADR 0010); by default this program with the `mapping-worker` subcommand,
    /// which only `ledgerd` has: anything else running a dispatcher (tests) must
    /// name a program that serves the sandbox protocol.
    pub mapping_worker: WorkerCommand,
    /// Most mapping child processes alive at once, hence mappings running at once.
    pub mapping_workers: usize,
    /// Address space of each mapping child process, in MiB; a program that needs
    /// more crashes its child and dead-letters its delivery.
    pub mapping_memory_limit_mib: u64,
    /// On shutdown, how long in-flight deliveries may take to finish; the rest keep
    /// their leases and are taken over when those expire.
    pub shutdown_grace: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            concurrency: 128,
            per_endpoint_concurrency: 64,
            batch_size: 100,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            idle_poll_max: projections::subscription::IDLE_POLL_MAX,
            error_backoff: Duration::from_secs(1),
            sender: SenderConfig::default(),
            target_policy: TargetPolicy::default(),
            circuit_breaker: CircuitBreaker::default(),
            mapping_timeout: Duration::from_secs(2),
            mapping_worker: WorkerCommand::current_exe(),
            mapping_workers: 2,
            mapping_memory_limit_mib: 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl DispatcherConfig {
    /// Checks the values; called by [`crate::run_dispatcher`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.concurrency >= 1,
            "dispatcher_concurrency",
            "must be at least 1",
        )?;
        check(
            self.per_endpoint_concurrency >= 1,
            "dispatcher_per_endpoint_concurrency",
            "must be at least 1",
        )?;
        check(
            self.batch_size >= 1,
            "dispatcher_batch_size",
            "must be at least 1",
        )?;
        check(
            !self.poll_interval.is_zero(),
            "dispatcher_poll_interval",
            "must be positive",
        )?;
        check(
            !self.mapping_timeout.is_zero(),
            "dispatcher_mapping_timeout",
            "must be positive",
        )?;
        check(
            self.mapping_workers >= 1,
            "dispatcher_mapping_workers",
            "must be at least 1",
        )?;
        check(
            self.mapping_memory_limit_mib >= MIN_MAPPING_MEMORY_MIB,
            "dispatcher_mapping_memory_limit_mib",
            "must be at least 256",
        )?;
        check(
            !self.sender.total_timeout.is_zero() && !self.sender.connect_timeout.is_zero(),
            "sender_timeouts",
            "must be positive",
        )?;
        // A lease shorter than one attempt hands a row to a second dispatcher while
        // the first is still sending it: a duplicate for nothing.
        check(
            self.lease > self.sender.total_timeout + self.mapping_timeout,
            "dispatcher_lease",
            "must be longer than the total send timeout plus the mapping timeout",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(DispatcherConfig::default().validate(), Ok(()));
        assert_eq!(RouterConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_lease_shorter_than_an_attempt_is_refused() {
        let config = DispatcherConfig {
            lease: Duration::from_secs(30),
            ..DispatcherConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError {
                field: "dispatcher_lease",
                ..
            })
        ));
        let config = DispatcherConfig {
            concurrency: 0,
            ..DispatcherConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
