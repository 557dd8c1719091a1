//! An aggregate's past state, replayed from its stream.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use domain::endpoint::{self, EndpointCommand};
use domain::ids::EndpointId;
use domain::secrets::WebhookSecret;
use domain::services::OsRandom;
use domain::values::{EndpointUrl, SystemName};
use domain::{CommandMetadata, Endpoint, Services};
use projections::time_travel::{state_at, AsOf};
use store::ledger::Ledger;
use testkit::TestDatabase;

#[tokio::test]
async fn state_at_an_instant_or_sequence_shows_the_past_not_the_present() {
    let db = TestDatabase::new().await;
    let ledger = Ledger::new(db.pool.clone(), Services::deterministic(chrono::Utc::now()));
    let id = EndpointId::new(42);
    let stream = endpoint::stream_id(id);
    let meta = || CommandMetadata::for_request(domain::Actor::System, "t").into_map();
    ledger
        .endpoints()
        .execute(
            &stream,
            EndpointCommand::Register {
                endpoint_id: id,
                system_name: SystemName::parse("crm").unwrap(),
                url: EndpointUrl::parse("https://old.example/hook").unwrap(),
                secret: WebhookSecret::generate(&OsRandom),
                retry_policy: None,
                timeout: None,
                ordering: Default::default(),
            },
            meta(),
        )
        .await
        .unwrap();
    let between: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ledger
        .endpoints()
        .execute(
            &stream,
            EndpointCommand::ChangeUrl {
                url: EndpointUrl::parse("https://new.example/hook").unwrap(),
            },
            meta(),
        )
        .await
        .unwrap();

    let upcasters = domain::upcasters();
    let url = |state: &Endpoint| serde_json::to_value(state).unwrap().to_string();
    let past = state_at::<Endpoint>(&db.pool, &stream, AsOf::Instant(between), &upcasters)
        .await
        .unwrap();
    assert_eq!(past.sequence, 1);
    assert!(
        url(&past.aggregate).contains("old.example"),
        "{}",
        url(&past.aggregate)
    );
    let by_sequence = state_at::<Endpoint>(&db.pool, &stream, AsOf::Sequence(1), &upcasters)
        .await
        .unwrap();
    assert!(url(&by_sequence.aggregate).contains("old.example"));
    let now = state_at::<Endpoint>(
        &db.pool,
        &stream,
        AsOf::Instant(chrono::Utc::now()),
        &upcasters,
    )
    .await
    .unwrap();
    assert_eq!(now.sequence, 2);
    assert!(url(&now.aggregate).contains("new.example"));
    let before = state_at::<Endpoint>(&db.pool, &stream, AsOf::Sequence(0), &upcasters)
        .await
        .unwrap();
    assert_eq!(before.sequence, 0);
}
