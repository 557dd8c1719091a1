//! Node ids for the id generator are leased (`store::node_lease`): two live processes
//! never hold the same one, a crashed process's id is taken again only once its lease
//! has ended, and starting more processes than there are ids over time keeps working.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{HashMap, HashSet};

use rand::Rng as _;
use sqlx::PgPool;
use store::node_lease::{LeaseTerms, NodeLease, NodeLeaseError, NODE_IDS};
use tests::process::Ledgerd;
use tests::TestDatabase;
use tokio_util::sync::CancellationToken;

fn terms() -> LeaseTerms {
    LeaseTerms::default()
}

/// What a crash leaves once its lease has run out: the row, ended.
async fn end_lease(pool: &PgPool, node_id: u16) {
    sqlx::query(
        "UPDATE node_leases SET expires_at = now() - interval '1 second' WHERE node_id = $1",
    )
    .bind(i16::try_from(node_id).unwrap())
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn processes_started_and_stopped_past_the_number_of_ids_never_share_a_live_node_id() {
    let db = TestDatabase::new().await;
    let mut rng = rand::thread_rng();
    // node id -> its live holder
    let mut live: HashMap<u16, NodeLease> = HashMap::new();
    let mut started = 0;
    while started < 3 * NODE_IDS {
        if live.len() < 40 && (live.is_empty() || rng.gen_bool(0.55)) {
            let lease = NodeLease::acquire(&db.pool, terms()).await.unwrap();
            assert!(
                !live.contains_key(&lease.node_id()),
                "start {started} got node id {}, which a live process holds",
                lease.node_id()
            );
            live.insert(lease.node_id(), lease);
            started += 1;
        } else {
            let stopping = *live.keys().nth(rng.gen_range(0..live.len())).unwrap();
            let lease = live.remove(&stopping).unwrap();
            if rng.gen_bool(0.8) {
                lease.release().await.unwrap();
            } else {
                // A crash: the lease is not released; its id is free once it ends.
                end_lease(&db.pool, stopping).await;
            }
        }
        // Every live holder still holds its own id.
        if started % 97 == 0 {
            for lease in live.values() {
                lease.renew().await.unwrap();
            }
        }
    }
    assert!(started > NODE_IDS);
}

#[tokio::test]
async fn concurrent_starters_each_get_a_node_id_of_their_own() {
    let db = TestDatabase::new().await;
    let mut starting = Vec::new();
    for _ in 0..64 {
        let pool = db.pool.clone();
        starting.push(tokio::spawn(async move {
            NodeLease::acquire(&pool, terms()).await.unwrap().node_id()
        }));
    }
    let mut ids = HashSet::new();
    for start in starting {
        let id = start.await.unwrap();
        assert!(ids.insert(id), "node id {id} was leased twice");
    }
}

#[tokio::test]
async fn a_live_lease_is_never_taken_and_an_ended_one_is() {
    let db = TestDatabase::new().await;
    let mut held = Vec::new();
    for _ in 0..NODE_IDS {
        held.push(NodeLease::acquire(&db.pool, terms()).await.unwrap());
    }
    let ids: HashSet<u16> = held.iter().map(NodeLease::node_id).collect();
    assert_eq!(ids.len(), NODE_IDS);

    // Every id is held by a live process: the next start fails, saying so.
    let refused = NodeLease::acquire(&db.pool, terms()).await.unwrap_err();
    assert!(matches!(refused, NodeLeaseError::AllHeld), "{refused:?}");
    assert!(refused.to_string().contains("node_leases"), "{refused}");

    // A process crashes: once its lease has ended, its id (and only it) is taken.
    let crashed = held.swap_remove(100);
    end_lease(&db.pool, crashed.node_id()).await;
    let next = NodeLease::acquire(&db.pool, terms()).await.unwrap();
    assert_eq!(next.node_id(), crashed.node_id());
    assert_ne!(next.holder(), crashed.holder());

    // The crashed process comes back: its id is someone else's, so it must stop.
    let lost = crashed.renew().await.unwrap_err();
    assert!(
        matches!(lost, NodeLeaseError::Lost { node_id } if node_id == crashed.node_id()),
        "{lost:?}"
    );
    // Releasing what it no longer holds leaves the new holder's lease alone.
    crashed.release().await.unwrap();
    let refused = NodeLease::acquire(&db.pool, terms()).await.unwrap_err();
    assert!(matches!(refused, NodeLeaseError::AllHeld), "{refused:?}");
    next.renew().await.unwrap();
}

#[tokio::test]
async fn a_released_id_is_handed_out_again_only_after_every_other_free_id() {
    let db = TestDatabase::new().await;
    let first = NodeLease::acquire(&db.pool, terms()).await.unwrap();
    first.release().await.unwrap();
    let mut later = HashSet::new();
    for _ in 0..NODE_IDS - 1 {
        later.insert(
            NodeLease::acquire(&db.pool, terms())
                .await
                .unwrap()
                .node_id(),
        );
    }
    assert!(!later.contains(&first.node_id()));
    let last = NodeLease::acquire(&db.pool, terms()).await.unwrap();
    assert_eq!(last.node_id(), first.node_id());
}

#[tokio::test]
async fn the_renewal_stops_with_the_process_and_releases_its_id() {
    let db = TestDatabase::new().await;
    let lease = NodeLease::acquire(&db.pool, terms()).await.unwrap();
    let shutdown = CancellationToken::new();
    let renewal = tokio::spawn({
        let (lease, shutdown) = (lease.clone(), shutdown.clone());
        async move { lease.keep(shutdown).await }
    });
    shutdown.cancel();
    renewal.await.unwrap().unwrap();
    let live: bool =
        sqlx::query_scalar("SELECT expires_at > now() FROM node_leases WHERE node_id = $1")
            .bind(i16::try_from(lease.node_id()).unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!live, "the stopped process still holds its node id");
}

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The live leases: holder -> node id.
async fn live_leases(pool: &PgPool) -> HashMap<String, i16> {
    sqlx::query_as::<_, (String, i16)>(
        "SELECT holder, node_id FROM node_leases WHERE expires_at > now()",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

#[tokio::test]
async fn two_ledgerd_processes_hold_different_node_ids_and_a_stopped_one_releases_its_own() {
    let db = TestDatabase::new().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
    ];
    let first = Ledgerd::serve(BIN, &["--roles", "api"], &env)
        .await
        .unwrap();
    let second = Ledgerd::serve(BIN, &["--roles", "api"], &env)
        .await
        .unwrap();
    let leases = live_leases(&db.pool).await;
    assert_eq!(leases.len(), 2, "{leases:?}");
    let ids: HashSet<i16> = leases.values().copied().collect();
    assert_eq!(ids.len(), 2, "{leases:?}");
    let pid = |ledgerd: &Ledgerd| format!(" pid {} ", ledgerd.pid());
    let second_pid = pid(&second);
    assert!(
        leases.keys().any(|h| h.contains(&pid(&first))),
        "{leases:?}"
    );

    assert!(first.terminate().unwrap().success());
    let leases = live_leases(&db.pool).await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert!(leases.keys().all(|h| h.contains(&second_pid)), "{leases:?}");
    assert!(second.terminate().unwrap().success());
    assert!(live_leases(&db.pool).await.is_empty());
}
