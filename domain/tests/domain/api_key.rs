use cqrs_es::test::TestFramework;
use domain::api_key::stream_id;
use domain::scope::{Permissions, Scope};
use domain::secrets::{generate_api_key, ApiKeyHash};
use domain::services::SeededRandom;
use domain::status::ApiKeyStatus;
use domain::{ApiKey, ApiKeyCommand as Cmd, ApiKeyError as Error, ApiKeyEvent as Ev, ApiKeyId};
use secrecy::ExposeSecret;

use crate::common::{execute, services, t0};

type Framework = TestFramework<ApiKey>;

const ID: ApiKeyId = ApiKeyId::new(3);

fn hash() -> ApiKeyHash {
    ApiKeyHash::of_key("ilk_test")
}

fn perms() -> Permissions {
    Permissions::parse(["events:write"]).expect("valid")
}

fn issue(name: &str, permissions: Permissions, rate: Option<u32>, prefix: &str) -> Cmd {
    Cmd::Issue {
        key_id: ID,
        name: name.into(),
        permissions,
        rate_limit_per_minute: rate,
        key_hash: hash(),
        prefix: prefix.into(),
    }
}

fn issued() -> Ev {
    Ev::ApiKeyIssued {
        key_id: ID,
        name: "erp producer".into(),
        permissions: perms(),
        rate_limit_per_minute: Some(600),
        key_hash: hash(),
        prefix: "ilk_test".into(),
        issued_at: t0(),
    }
}

fn revoked() -> Ev {
    Ev::ApiKeyRevoked {
        key_id: ID,
        reason: Some("leaked".into()),
        revoked_at: t0(),
    }
}

#[test]
fn stream_id_is_the_key_id() {
    assert_eq!(stream_id(ID), "3");
}

#[tokio::test]
async fn issue_keeps_only_hash_and_prefix() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(issue("erp producer", perms(), Some(600), "ilk_test"))
        .await
        .then_expect_events(vec![issued()]);
}

#[tokio::test]
async fn a_generated_key_never_reaches_the_event() {
    let generated = generate_api_key(&SeededRandom::new(4));
    let events = Framework::with(services())
        .given_no_previous_events()
        .when_async(Cmd::Issue {
            key_id: ID,
            name: "ui".into(),
            permissions: [Scope::Admin].into_iter().collect(),
            rate_limit_per_minute: None,
            key_hash: generated.hash.clone(),
            prefix: generated.prefix.clone(),
        })
        .await
        .inspect_result()
        .expect("issued");
    let json = serde_json::to_string(&events).expect("json");
    assert!(!json.contains(generated.key.expose_secret()));
    assert!(json.contains(generated.hash.as_str()));
}

#[tokio::test]
async fn issue_twice_is_rejected() {
    let result = Framework::with(services())
        .given(vec![issued()])
        .when_async(issue("again", perms(), None, "ilk_x"))
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::AlreadyIssued)));
}

#[tokio::test]
async fn invalid_issues_are_rejected() {
    let long = "n".repeat(101);
    type IsExpected = fn(&Error) -> bool;
    let cases: Vec<(Cmd, IsExpected)> = vec![
        (issue("  ", perms(), None, "ilk_x"), |e| {
            matches!(e, Error::InvalidName)
        }),
        (issue(&long, perms(), None, "ilk_x"), |e| {
            matches!(e, Error::InvalidName)
        }),
        (issue("a\u{0}b", perms(), None, "ilk_x"), |e| {
            matches!(e, Error::InvalidName)
        }),
        (issue("ok", Permissions::default(), None, "ilk_x"), |e| {
            matches!(e, Error::NoPermissions)
        }),
        (issue("ok", perms(), Some(0), "ilk_x"), |e| {
            matches!(e, Error::InvalidRateLimit)
        }),
        (issue("ok", perms(), None, ""), |e| {
            matches!(e, Error::InvalidPrefix)
        }),
        (issue("ok", perms(), None, "ilk_123456789"), |e| {
            matches!(e, Error::InvalidPrefix)
        }),
    ];
    for (cmd, expected) in cases {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(cmd)
            .await
            .inspect_result();
        let err = result.expect_err("rejected");
        assert!(expected(&err), "{err:?}");
    }
}

#[tokio::test]
async fn revoke() {
    Framework::with(services())
        .given(vec![issued()])
        .when_async(Cmd::Revoke {
            reason: Some("leaked".into()),
        })
        .await
        .then_expect_events(vec![revoked()]);
}

#[tokio::test]
async fn revoke_before_issue_or_twice_is_rejected() {
    let result = Framework::with(services())
        .given_no_previous_events()
        .when_async(Cmd::Revoke { reason: None })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::NotIssued)));
    let result = Framework::with(services())
        .given(vec![issued(), revoked()])
        .when_async(Cmd::Revoke { reason: None })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::AlreadyRevoked)));
}

#[tokio::test]
async fn the_state_follows_the_events() {
    let s = services();
    let mut key = ApiKey::default();
    execute(
        &mut key,
        issue("erp producer", perms(), Some(600), "ilk_test"),
        &s,
    )
    .await
    .expect("issue");
    let details = key.details().expect("issued");
    assert_eq!(details.status, ApiKeyStatus::Active);
    assert!(details.permissions.allows(Scope::EventsWrite));
    execute(&mut key, Cmd::Revoke { reason: None }, &s)
        .await
        .expect("revoke");
    assert_eq!(key.details().map(|d| d.status), Some(ApiKeyStatus::Revoked));
}
