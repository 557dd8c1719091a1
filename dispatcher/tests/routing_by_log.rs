#![allow(clippy::unwrap_used)]
//! Routing by the log (ADR 0014): each event goes to the endpoints and mapping
//! versions as they stood at its own place in the log, however far behind the
//! router is and whatever changed since.

mod support;

use std::collections::{BTreeSet, HashMap};

use cqrs_es::Aggregate as _;
use dispatcher::{Router, RouterConfig};
use domain::endpoint::{self, DisableReason, Endpoint, EndpointCommand, EndpointEvent};
use domain::event_mapping::{self, EventMapping, EventMappingCommand, EventMappingEvent};
use domain::integration_event::IntegrationEventEvent;
use domain::status::{DeliveryStatus, EndpointStatus};
use domain::values::{EventType, SystemName};
use domain::EndpointId;
use projections::subscription::{checkpoint, Cursor, Subscription, SubscriptionConfig};
use serde_json::json;
use sqlx::Row as _;
use store::commands::CommandError;
use support::hooks::Hooks;
use support::pipeline::{metadata, EndpointSpec, Pipeline};
use url::Url;

const SYSTEMS: [&str; 2] = ["crm", "billing"];
const TYPES: [&str; 2] = ["order.created", "order.paid"];

/// (endpoint, mapping, mapping version) of one delivery.
type Fanout = BTreeSet<(i64, i64, u32)>;

/// A small deterministic generator (xorshift), so that a failure replays.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// Runs a command whose refusal (disabling a disabled endpoint, retiring a retired
/// mapping, anything after a delete) is part of a random history.
fn accepted<T, E: std::error::Error>(result: Result<T, CommandError<E>>) {
    match result {
        Ok(_) | Err(CommandError::Rejected(_)) => {}
        Err(other) => panic!("{other:?}"),
    }
}

/// What the log says each event should go to: the log replayed up to the event, with
/// the domain's own aggregates (a mapping's live version; endpoints not deleted,
/// disabled ones included), and what the router recorded for it.
async fn expected_and_recorded(p: &Pipeline) -> (Vec<(i64, Fanout)>, HashMap<i64, Fanout>, usize) {
    let rows = sqlx::query(
        "SELECT aggregate_type, aggregate_id, payload::jsonb AS payload FROM events \
         WHERE aggregate_type IN ('Endpoint', 'EventMapping', 'IntegrationEvent') \
         ORDER BY tx_id, position",
    )
    .fetch_all(p.pool())
    .await
    .unwrap();
    let mut endpoints: HashMap<String, Endpoint> = HashMap::new();
    let mut mappings: HashMap<String, EventMapping> = HashMap::new();
    let mut expected = Vec::new();
    let mut recorded = HashMap::new();
    let mut to_disabled = 0;
    for row in rows {
        let stream: String = row.get("aggregate_id");
        let payload: serde_json::Value = row.get("payload");
        match row.get::<String, _>("aggregate_type").as_str() {
            "Endpoint" => {
                let event: EndpointEvent = serde_json::from_value(payload).unwrap();
                endpoints.entry(stream).or_default().apply(event);
            }
            "EventMapping" => {
                let event: EventMappingEvent = serde_json::from_value(payload).unwrap();
                mappings.entry(stream).or_default().apply(event);
            }
            _ => match serde_json::from_value::<IntegrationEventEvent>(payload).unwrap() {
                IntegrationEventEvent::EventReceived {
                    event_id,
                    event_type,
                    ..
                } => {
                    let mut fanout = Fanout::new();
                    for live in mappings.values().filter_map(EventMapping::live) {
                        if live.event_type != event_type {
                            continue;
                        }
                        for d in endpoints.values().filter_map(Endpoint::details) {
                            if d.system_name == live.target_system
                                && d.status != EndpointStatus::Deleted
                            {
                                to_disabled += usize::from(d.status == EndpointStatus::Disabled);
                                fanout.insert((
                                    d.endpoint_id.get(),
                                    live.mapping_id.get(),
                                    live.version,
                                ));
                            }
                        }
                    }
                    expected.push((event_id.get(), fanout));
                }
                IntegrationEventEvent::EventRouted {
                    event_id,
                    deliveries,
                    ..
                } => {
                    let fanout = deliveries
                        .iter()
                        .map(|d| (d.endpoint_id.get(), d.mapping_id.get(), d.mapping_version))
                        .collect();
                    assert!(recorded.insert(event_id.get(), fanout).is_none());
                }
                IntegrationEventEvent::EventUnroutable { event_id, .. } => {
                    assert!(recorded.insert(event_id.get(), Fanout::new()).is_none());
                }
            },
        }
    }
    (expected, recorded, to_disabled)
}

/// A route change a random history makes.
#[derive(Debug, Clone, Copy)]
enum Change {
    Disable,
    Enable,
    Delete,
    Register,
    Publish,
    Retire,
}

/// The parts of a random history: an endpoint, an event type and a system picked
/// for the step.
struct Pick {
    endpoint: EndpointId,
    event_type: &'static str,
    system: &'static str,
}

fn pick(dice: &mut Dice, endpoints: &[EndpointId]) -> Pick {
    Pick {
        endpoint: endpoints[dice.roll(endpoints.len())],
        event_type: TYPES[dice.roll(2)],
        system: SYSTEMS[dice.roll(2)],
    }
}

/// Makes `change` (a refusal, such as disabling a disabled endpoint, is part of the
/// history); a registered endpoint joins `endpoints`.
async fn change_routes(
    p: &Pipeline,
    change: Change,
    pick: &Pick,
    step: usize,
    endpoints: &mut Vec<EndpointId>,
) {
    let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
    let stream = endpoint::stream_id(pick.endpoint);
    let endpoint_command = |command| {
        p.ledger
            .endpoints()
            .execute(&stream, command, metadata().into_map())
    };
    match change {
        Change::Disable => accepted(
            endpoint_command(EndpointCommand::Disable {
                reason: DisableReason::Manual,
            })
            .await,
        ),
        Change::Enable => accepted(endpoint_command(EndpointCommand::Enable).await),
        Change::Delete => accepted(endpoint_command(EndpointCommand::Delete).await),
        Change::Register => endpoints.push(
            p.register(pick.system, &url, EndpointSpec::default())
                .await
                .id,
        ),
        Change::Publish => {
            p.publish(pick.event_type, pick.system, &format!("{{step: {step}}}"))
                .await;
        }
        Change::Retire => {
            let mapping_stream = event_mapping::stream_id(
                &EventType::parse(pick.event_type).unwrap(),
                &SystemName::parse(pick.system).unwrap(),
            );
            accepted(
                p.ledger
                    .mappings()
                    .execute(
                        &mapping_stream,
                        EventMappingCommand::Retire,
                        metadata().into_map(),
                    )
                    .await,
            );
        }
    }
}

/// A router reading small batches (changes fall inside batches as well as between
/// them), stepped by hand; two endpoints per system and an identity mapping per
/// type and system to start from.
async fn lagging_router(p: &Pipeline) -> (Subscription<Router>, Vec<EndpointId>) {
    let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
    let config = SubscriptionConfig {
        batch_size: 7,
        ..SubscriptionConfig::default()
    };
    let router = Subscription::new(
        p.pool().clone(),
        Router::new(
            p.ledger.clone(),
            RouterConfig {
                subscription: config.clone(),
                ..RouterConfig::default()
            },
        ),
        config,
    );
    let mut endpoints: Vec<EndpointId> = Vec::new();
    for system in SYSTEMS {
        endpoints.push(p.register(system, &url, EndpointSpec::default()).await.id);
        endpoints.push(p.register(system, &url, EndpointSpec::default()).await.id);
    }
    for event_type in TYPES {
        for system in SYSTEMS {
            p.publish(event_type, system, ".").await;
        }
    }
    (router, endpoints)
}

/// The projector all the way, the router a batch (the rest stays in flight).
async fn step_router(p: &Pipeline, router: &Subscription<Router>, cursor: &mut Cursor) {
    projections::read_models::catch_up(p.pool()).await.unwrap();
    if let Some(next) = router.step(*cursor).await.unwrap() {
        *cursor = next;
    }
}

/// Steps the router until all `received` events are routed. The snapshot horizon
/// is the whole cluster's: another test's open transaction can keep events out of
/// reach for a moment.
async fn route_everything(
    p: &Pipeline,
    router: &Subscription<Router>,
    cursor: &mut Cursor,
    received: usize,
) {
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        while let Some(next) = router.step(*cursor).await.unwrap() {
            *cursor = next;
        }
        let decided = p.count_events("EventRouted").await + p.count_events("EventUnroutable").await;
        if decided >= received as i64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "events never routed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What one step of a random history does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// An event received the ordinary way (the router routes it).
    Receive,
    /// An event received through the hot path.
    ReceiveHot,
    /// A route change.
    Change(Change),
    /// The projector catches up (so hot-path receives route inline until the next
    /// route change), the router a batch.
    Router,
}

/// Plays `steps` random steps from `seed`: each picks its endpoint and event type,
/// then rolls 0 to 99 and takes the first step of `odds` whose bound is above the
/// roll (a router step past the last bound); then routes everything. Returns how
/// many events were received.
#[allow(clippy::too_many_arguments)] // a history's set-up, named at each call
async fn play(
    p: &Pipeline,
    router: &Subscription<Router>,
    cursor: &mut Cursor,
    endpoints: &mut Vec<EndpointId>,
    hot: Option<&dispatcher::HotPath>,
    seed: u64,
    steps: usize,
    odds: &[(usize, Step)],
) -> usize {
    let mut dice = Dice(seed);
    let mut received = 0;
    for step in 0..steps {
        let pick = pick(&mut dice, endpoints);
        let roll = dice.roll(100);
        let chosen = odds
            .iter()
            .find(|(bound, _)| roll < *bound)
            .map_or(Step::Router, |(_, chosen)| *chosen);
        match chosen {
            Step::Receive => {
                received += 1;
                p.receive(&format!("e-{step}"), pick.event_type, json!({"step": step}))
                    .await;
            }
            Step::ReceiveHot => {
                received += 1;
                let hot = hot.expect("a history with hot-path receives has a hot path");
                receive_hot(hot, p, &format!("h-{step}"), pick.event_type).await;
            }
            Step::Change(change) => change_routes(p, change, &pick, step, endpoints).await,
            Step::Router => step_router(p, router, cursor).await,
        }
    }
    route_everything(p, router, cursor, received).await;
    received
}

#[tokio::test]
async fn every_event_is_routed_as_of_its_place_in_the_log_while_endpoints_and_mappings_change_under_a_lagging_router(
) {
    let p = Pipeline::bare().await;
    let (router, mut endpoints) = lagging_router(&p).await;
    let mut cursor = checkpoint(p.pool(), dispatcher::ROUTER_NAME).await.unwrap();
    let received = play(
        &p,
        &router,
        &mut cursor,
        &mut endpoints,
        None,
        0x9E37_79B9_7F4A_7C15,
        260,
        &[
            (40, Step::Receive),
            (50, Step::Change(Change::Disable)),
            (60, Step::Change(Change::Enable)),
            (63, Step::Change(Change::Delete)),
            (68, Step::Change(Change::Register)),
            (78, Step::Change(Change::Publish)),
            (88, Step::Change(Change::Retire)),
        ],
    )
    .await;

    let (expected, recorded, to_disabled) = expected_and_recorded(&p).await;
    assert_eq!(expected.len(), received);
    for (event_id, fanout) in &expected {
        assert_eq!(
            recorded.get(event_id),
            Some(fanout),
            "event {event_id}: routed otherwise than the log up to it says"
        );
    }
    // The history exercised what matters: deliveries to disabled endpoints, events
    // without any route, events to several mapping versions.
    assert!(to_disabled > 0, "no event went to a disabled endpoint");
    assert!(expected.iter().any(|(_, f)| f.is_empty()));
    let versions: BTreeSet<u32> = expected
        .iter()
        .flat_map(|(_, f)| f.iter().map(|d| d.2))
        .collect();
    assert!(versions.len() > 2, "{versions:?}");
}

#[tokio::test]
async fn an_event_logged_while_its_endpoint_is_disabled_waits_for_it_and_a_deleted_endpoint_gets_nothing(
) {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let paused = p
        .register("crm", &hooks.url("/paused"), EndpointSpec::default())
        .await;
    let deleted = p
        .register("crm", &hooks.url("/deleted"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let disable = EndpointCommand::Disable {
        reason: DisableReason::Manual,
    };
    p.endpoint_command(paused.id, disable).await;
    p.endpoint_command(deleted.id, EndpointCommand::Delete)
        .await;

    let event = p
        .receive("while-disabled", "order.created", json!({}))
        .await;
    // Routed to the disabled endpoint, where it waits: the dispatcher claims only
    // active endpoints' deliveries.
    p.wait_status(event, paused.id, DeliveryStatus::Pending.id())
        .await;
    assert!(hooks.hits("/paused").is_empty());
    assert!(p.delivery(event, deleted.id).await.is_none());

    p.endpoint_command(paused.id, EndpointCommand::Enable).await;
    p.wait_status(event, paused.id, DeliveryStatus::Succeeded.id())
        .await;
    assert_eq!(hooks.hits("/paused").len(), 1);
    assert!(hooks.hits("/deleted").is_empty());
    p.stop().await;
}

/// Receives an event from `erp` with key `key` through the hot path.
async fn receive_hot(hot: &dispatcher::HotPath, p: &Pipeline, key: &str, event_type: &str) {
    use domain::integration_event::{self, Channel, IntegrationEventCommand};
    use domain::values::{EventKey, Payload};
    let source = SystemName::parse("erp").unwrap();
    let key = EventKey::parse(key).unwrap();
    let stream = integration_event::stream_id(&source, &key);
    let command = IntegrationEventCommand::Receive {
        event_id: domain::EventId::generate(&*p.ledger.services().ids),
        event_type: EventType::parse(event_type).unwrap(),
        source_system: source,
        event_key: key,
        payload: Payload::new(json!({"hot": true})),
        channel: Channel::Rest,
    };
    hot.receive(&stream, command, metadata().into_map())
        .await
        .unwrap();
}

/// The hot path (ADR 0018) routes an event in the transaction that receives it,
/// from the read models, when the projector has applied every route change before
/// it, and otherwise leaves it to the router: under random route changes, with the
/// projector sometimes caught up and sometimes not, every event is routed as the
/// log up to it says (the same oracle as above), both paths are taken, and a
/// rebuild from the log yields exactly the tables the inline projection and the
/// projector wrote together.
#[tokio::test]
async fn the_hot_path_routes_as_the_log_says_and_a_rebuild_yields_the_same_tables() {
    let p = Pipeline::bare().await;
    let hot = dispatcher::HotPath::new(p.ledger.clone(), None);
    let (router, mut endpoints) = lagging_router(&p).await;
    let mut cursor = checkpoint(p.pool(), dispatcher::ROUTER_NAME).await.unwrap();
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let received = play(
        &p,
        &router,
        &mut cursor,
        &mut endpoints,
        Some(&hot),
        0x2545_F491_4F6C_DD1D,
        300,
        &[
            (45, Step::ReceiveHot),
            (50, Step::Receive),
            (56, Step::Change(Change::Disable)),
            (62, Step::Change(Change::Enable)),
            (64, Step::Change(Change::Delete)),
            (68, Step::Change(Change::Register)),
            (74, Step::Change(Change::Publish)),
            (79, Step::Change(Change::Retire)),
        ],
    )
    .await;

    let (expected, recorded, _) = expected_and_recorded(&p).await;
    assert_eq!(expected.len(), received);
    for (event_id, fanout) in &expected {
        assert_eq!(
            recorded.get(event_id),
            Some(fanout),
            "event {event_id}: routed otherwise than the log up to it says"
        );
    }
    // Both paths were taken: routed in the receiving transaction, and by the router.
    let (inline, by_router): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE r.tx_id = x.tx_id), count(*) FILTER (WHERE r.tx_id <> x.tx_id) \
         FROM events r JOIN events x ON x.aggregate_type = 'IntegrationEvent' \
           AND x.aggregate_id = r.aggregate_id AND x.event_type IN ('EventRouted', 'EventUnroutable') \
         WHERE r.event_type = 'EventReceived'",
    )
    .fetch_one(p.pool())
    .await
    .unwrap();
    assert!(inline > 20, "{inline} routed inline");
    assert!(by_router > 10, "{by_router} routed by the router");
    assert_eq!(inline + by_router, received as i64);
    // No delivery was scheduled twice.
    let scheduled: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT aggregate_id) FROM events WHERE event_type = 'DeliveryScheduled'",
    )
    .fetch_one(p.pool())
    .await
    .unwrap();
    assert_eq!(scheduled.0, scheduled.1);

    // The router's own events are projected too before the tables are compared.
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let live = testkit::fixtures::read_model_dump(p.pool()).await.unwrap();
    let report = projections::rebuild::rebuild(p.pool(), Default::default(), |_| {})
        .await
        .unwrap();
    assert!(!report.resumed);
    let rebuilt = testkit::fixtures::read_model_dump(p.pool()).await.unwrap();
    for ((table, live), (_, fresh)) in live.iter().zip(&rebuilt) {
        let differ: Vec<(&String, &String)> = live
            .iter()
            .zip(fresh)
            .filter(|(a, b)| a != b)
            .take(3)
            .collect();
        assert!(
            differ.is_empty() && live.len() == fresh.len(),
            "table {table} differs after a rebuild ({} rows live, {} rebuilt): {differ:#?}",
            live.len(),
            fresh.len()
        );
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM retry_queue")
        .fetch_one(p.pool())
        .await
        .unwrap();
    assert!(queued > 0, "deliveries were queued");
}

/// Deletes `id` in a request of its own, `request`, whose id becomes the
/// correlation id of what the delete causes.
async fn delete_in_request(p: &Pipeline, id: EndpointId, request: &str) {
    let metadata =
        domain::metadata::CommandMetadata::for_request(domain::metadata::Actor::System, request);
    p.ledger
        .endpoints()
        .execute(
            &endpoint::stream_id(id),
            EndpointCommand::Delete,
            metadata.into_map(),
        )
        .await
        .unwrap();
}

/// The `DeliveryCancelled` events of the delivery of `event` to `endpoint`, with
/// the correlation id of each.
async fn cancellations(
    p: &Pipeline,
    event: domain::EventId,
    endpoint: EndpointId,
) -> Vec<(Option<String>, String)> {
    let stream = domain::delivery::stream_id(event, endpoint);
    sqlx::query(
        "SELECT payload -> 'DeliveryCancelled' ->> 'reason' AS reason, \
                metadata ->> 'correlation_id' AS correlation \
         FROM events WHERE aggregate_type = 'Delivery' AND aggregate_id = $1 \
           AND event_type = 'DeliveryCancelled' ORDER BY sequence",
    )
    .bind(stream)
    .fetch_all(p.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get("reason"), row.get("correlation")))
    .collect()
}

async fn queued_rows_of(p: &Pipeline, endpoint: EndpointId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM retry_queue WHERE endpoint_id = $1")
        .bind(endpoint.get())
        .fetch_one(p.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn queued_deliveries_of_a_deleted_endpoint_end_cancelled_once_caused_by_the_delete() {
    // No dispatcher yet: every delivery waits in the queue.
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    let kept = p
        .register("crm", &hooks.url("/kept"), EndpointSpec::default())
        .await;
    let gone = p
        .register("crm", &hooks.url("/gone"), EndpointSpec::default())
        .await;
    let later = p
        .register("crm", &hooks.url("/later"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let mut events = Vec::new();
    for n in 0..40 {
        events.push(
            p.receive(&format!("queued-{n}"), "order.created", json!({ "n": n }))
                .await,
        );
    }
    let pending = DeliveryStatus::Pending.id();
    for &event in &events {
        for endpoint in [kept.id, gone.id, later.id] {
            p.wait_status(event, endpoint, pending).await;
        }
    }
    delete_in_request(&p, gone.id, "req-delete-gone").await;
    p.wait_caught_up(projections::read_models::NAME).await;

    // A sweep stopped part way (a dispatcher shut down or killed in the middle),
    // then two at once: every delivery is cancelled exactly once.
    let ledger = p.ledger.clone();
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(30),
        dispatcher::worker::cancel_deleted_endpoints_deliveries(&ledger, "stopped"),
    )
    .await;
    let (a, b) = tokio::join!(
        dispatcher::worker::cancel_deleted_endpoints_deliveries(&ledger, "first"),
        dispatcher::worker::cancel_deleted_endpoints_deliveries(&ledger, "second"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a + b <= 40, "{a} + {b}");
    let cancelled = DeliveryStatus::Cancelled.id();
    for &event in &events {
        p.wait_status(event, gone.id, cancelled).await;
        assert_eq!(
            cancellations(&p, event, gone.id).await,
            [(
                Some(dispatcher::worker::DELETED_ENDPOINT_REASON.to_owned()),
                "req-delete-gone".to_owned()
            )]
        );
        assert_eq!(p.delivery(event, kept.id).await.unwrap().1, pending);
    }
    assert_eq!(queued_rows_of(&p, gone.id).await, 0);
    assert_eq!(queued_rows_of(&p, kept.id).await, 40);
    // Nothing is left for a later sweep.
    assert_eq!(
        dispatcher::worker::cancel_deleted_endpoints_deliveries(&ledger, "again")
            .await
            .unwrap(),
        0
    );

    // A dispatcher sweeps when it starts: the other deleted endpoint's deliveries
    // end cancelled, the live endpoint's are sent, and nothing reaches the deleted.
    delete_in_request(&p, later.id, "req-delete-later").await;
    p.wait_caught_up(projections::read_models::NAME).await;
    let dispatcher = p.spawn_dispatcher(support::pipeline::test_config()).await;
    p.dispatchers.push(dispatcher);
    for &event in &events {
        p.wait_status(event, later.id, cancelled).await;
        p.wait_status(event, kept.id, DeliveryStatus::Succeeded.id())
            .await;
        assert_eq!(cancellations(&p, event, later.id).await.len(), 1);
    }
    assert_eq!(queued_rows_of(&p, later.id).await, 0);
    assert_eq!(hooks.hits("/kept").len(), 40);
    assert!(hooks.hits("/gone").is_empty());
    assert!(hooks.hits("/later").is_empty());
    p.stop().await;
}

#[tokio::test]
async fn a_sweep_whose_database_sessions_are_killed_under_it_cancels_each_delivery_once() {
    let p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    let gone = p
        .register("crm", &hooks.url("/gone"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let mut events = Vec::new();
    for n in 0..100 {
        events.push(
            p.receive(&format!("killed-{n}"), "order.created", json!({ "n": n }))
                .await,
        );
    }
    for &event in &events {
        p.wait_status(event, gone.id, DeliveryStatus::Pending.id())
            .await;
    }
    delete_in_request(&p, gone.id, "req-delete").await;
    p.wait_caught_up(projections::read_models::NAME).await;

    // While the sweep runs, every other session of the database is terminated, five
    // times (the sweep's, the projector's and the router's alike), as when
    // PostgreSQL restarts under it.
    let mut killer = <sqlx::PgConnection as sqlx::Connection>::connect(&p.db.url)
        .await
        .unwrap();
    let ledger = p.ledger.clone();
    let sweep = tokio::spawn(async move {
        dispatcher::worker::cancel_deleted_endpoints_deliveries(&ledger, "killed").await
    });
    let mut killed = 0;
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        killed += sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
        )
        .fetch_one(&mut killer)
        .await
        .unwrap();
    }
    assert!(killed > 0);
    // Cut off by the first kill on this machine (a terminated session's error).
    let _ = sweep.await.unwrap();

    // Later sweeps finish the work; none cancels a delivery twice.
    support::pipeline::wait_for(
        "the queue of the deleted endpoint to empty",
        std::time::Duration::from_secs(30),
        || async {
            let _ =
                dispatcher::worker::cancel_deleted_endpoints_deliveries(&p.ledger, "again").await;
            (queued_rows_of(&p, gone.id).await == 0).then_some(())
        },
    )
    .await;
    for &event in &events {
        p.wait_status(event, gone.id, DeliveryStatus::Cancelled.id())
            .await;
        assert_eq!(cancellations(&p, event, gone.id).await.len(), 1);
    }
    assert!(hooks.hits("/gone").is_empty());
    p.stop().await;
}
