//! The command side of the whole ledger: one [`CommandBus`] per aggregate, sharing
//! one pool and one set of domain services.

use std::sync::Arc;

use domain::{
    ApiKey, Delivery, Endpoint, EventMapping, IntegrationEvent, Services, SubscriptionControl,
    SyncJob,
};
use sqlx::PgPool;

use crate::commands::CommandBus;
use crate::group_commit::GroupCommitRepository;

/// Every aggregate's command bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ledger {
    inner: Arc<Buses>,
}

#[derive(Debug)]
struct Buses {
    pool: PgPool,
    repo: GroupCommitRepository,
    services: Services,
    events: CommandBus<IntegrationEvent>,
    deliveries: CommandBus<Delivery>,
    endpoints: CommandBus<Endpoint>,
    mappings: CommandBus<EventMapping>,
    api_keys: CommandBus<ApiKey>,
    sync_jobs: CommandBus<SyncJob>,
    subscriptions: CommandBus<SubscriptionControl>,
}

impl Ledger {
    /// Buses on `pool` with `services`, reading old event versions through
    /// [`domain::upcasting::upcasters`]. Spawns the group-commit writers on the
    /// current runtime.
    pub fn new(pool: PgPool, services: Services) -> Self {
        // One group-commit queue for every aggregate: commands of all kinds share
        // transactions.
        let repo = GroupCommitRepository::new(pool.clone());
        let up = domain::upcasting::upcasters;
        Self {
            inner: Arc::new(Buses {
                events: CommandBus::new(repo.clone(), services.clone(), up()),
                deliveries: CommandBus::new(repo.clone(), services.clone(), up()),
                endpoints: CommandBus::new(repo.clone(), services.clone(), up()),
                mappings: CommandBus::new(repo.clone(), services.clone(), up()),
                api_keys: CommandBus::new(repo.clone(), services.clone(), up()),
                sync_jobs: CommandBus::new(repo.clone(), services.clone(), up()),
                subscriptions: CommandBus::new(repo.clone(), services.clone(), up()),
                repo,
                pool,
                services,
            }),
        }
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Wakes the subscribers after events were appended outside the command buses
    /// (the hot path's transactions): see [`GroupCommitRepository::announce`].
    pub fn announce_appended(&self) {
        self.inner.repo.announce();
    }

    /// The domain services (clock, ids, randomness, cipher).
    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    /// Integration events.
    pub fn events(&self) -> &CommandBus<IntegrationEvent> {
        &self.inner.events
    }

    /// Deliveries.
    pub fn deliveries(&self) -> &CommandBus<Delivery> {
        &self.inner.deliveries
    }

    /// Endpoints.
    pub fn endpoints(&self) -> &CommandBus<Endpoint> {
        &self.inner.endpoints
    }

    /// Event mappings.
    pub fn mappings(&self) -> &CommandBus<EventMapping> {
        &self.inner.mappings
    }

    /// API keys.
    pub fn api_keys(&self) -> &CommandBus<ApiKey> {
        &self.inner.api_keys
    }

    /// Sync jobs.
    pub fn sync_jobs(&self) -> &CommandBus<SyncJob> {
        &self.inner.sync_jobs
    }

    /// Operators' decisions on stopped subscriptions.
    pub fn subscriptions(&self) -> &CommandBus<SubscriptionControl> {
        &self.inner.subscriptions
    }
}
