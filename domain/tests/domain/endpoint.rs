use std::time::Duration as StdDuration;

use chrono::Duration;
use cqrs_es::test::TestFramework;
use domain::cipher::EncryptedSecret;
use domain::endpoint::{active_secrets, stream_id, DisableReason, DEFAULT_TIMEOUT_MS};
use domain::retry::RetryPolicy;
use domain::secrets::WebhookSecret;
use domain::status::EndpointStatus;
use domain::values::{EndpointUrl, SystemName};
use domain::{
    Endpoint, EndpointCommand as Cmd, EndpointError as Error, EndpointEvent as Ev, EndpointId,
};

use crate::common::{execute, services, services_with_clock, t0};

type Framework = TestFramework<Endpoint>;

const ID: EndpointId = EndpointId::new(7);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn url(u: &str) -> EndpointUrl {
    EndpointUrl::parse(u).expect("valid")
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::parse(s).expect("valid")
}

fn sealed(tag: &str) -> EncryptedSecret {
    EncryptedSecret::from_stored(format!("v1:{tag}"))
}

fn register(timeout: Option<StdDuration>) -> Cmd {
    Cmd::Register {
        endpoint_id: ID,
        system_name: SystemName::parse("crm").expect("valid"),
        url: url("https://crm.example.com/hook"),
        secret: secret(SECRET),
        retry_policy: None,
        timeout,
        ordering: Default::default(),
    }
}

fn registered() -> Ev {
    Ev::EndpointRegistered {
        endpoint_id: ID,
        system_name: SystemName::parse("crm").expect("valid"),
        url: url("https://crm.example.com/hook"),
        secret: sealed("old"),
        retry_policy: None,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        registered_at: t0(),
    }
}

fn disabled(reason: DisableReason) -> Ev {
    Ev::EndpointDisabled {
        endpoint_id: ID,
        reason,
        disabled_at: t0(),
    }
}

fn deleted() -> Ev {
    Ev::EndpointDeleted {
        endpoint_id: ID,
        deleted_at: t0(),
    }
}

fn every_command_but_register() -> Vec<Cmd> {
    vec![
        Cmd::ChangeUrl {
            url: url("https://x.example.com/"),
        },
        Cmd::RotateSecret {
            secret: secret(NEW_SECRET),
            grace_period: None,
        },
        Cmd::ChangeRetryPolicy {
            retry_policy: Some(RetryPolicy::default()),
        },
        Cmd::Disable {
            reason: DisableReason::Manual,
        },
        Cmd::Enable,
        Cmd::Delete,
    ]
}

#[test]
fn stream_id_is_the_endpoint_id() {
    assert_eq!(stream_id(ID), "7");
}

#[tokio::test]
async fn register_stores_only_the_encrypted_secret() {
    let s = services();
    let events = Framework::with(s.clone())
        .given_no_previous_events()
        .when_async(register(None))
        .await
        .inspect_result()
        .expect("registered");
    let [Ev::EndpointRegistered {
        endpoint_id,
        secret: stored,
        timeout_ms,
        registered_at,
        ..
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        (*endpoint_id, *timeout_ms, *registered_at),
        (ID, DEFAULT_TIMEOUT_MS, t0())
    );
    assert_eq!(
        WebhookSecret::decrypt(&*s.cipher, stored).expect("decrypts"),
        secret(SECRET)
    );
    let json = serde_json::to_string(&events).expect("json");
    assert!(!json.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{json}");
}

#[tokio::test]
async fn register_accepts_a_timeout_within_bounds() {
    let events = Framework::with(services())
        .given_no_previous_events()
        .when_async(register(Some(StdDuration::from_secs(5))))
        .await
        .inspect_result()
        .expect("registered");
    assert!(matches!(
        &events[..],
        [Ev::EndpointRegistered {
            timeout_ms: 5000,
            ..
        }]
    ));
    for bad in [StdDuration::from_millis(999), StdDuration::from_secs(61)] {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(register(Some(bad)))
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::TimeoutOutOfRange)), "{bad:?}");
    }
}

#[tokio::test]
async fn register_twice_is_rejected() {
    for history in [vec![registered()], vec![registered(), deleted()]] {
        let result = Framework::with(services())
            .given(history)
            .when_async(register(None))
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::AlreadyRegistered)));
    }
}

#[tokio::test]
async fn commands_before_register_are_rejected() {
    for cmd in every_command_but_register() {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(cmd)
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::NotRegistered)));
    }
}

#[tokio::test]
async fn commands_after_delete_are_rejected() {
    for cmd in every_command_but_register() {
        let result = Framework::with(services())
            .given(vec![registered(), deleted()])
            .when_async(cmd)
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::Deleted)));
    }
}

#[tokio::test]
async fn change_url() {
    Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::ChangeUrl {
            url: url("https://crm.example.com/v2"),
        })
        .await
        .then_expect_events(vec![Ev::EndpointUrlChanged {
            endpoint_id: ID,
            url: url("https://crm.example.com/v2"),
            changed_at: t0(),
        }]);
    Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::ChangeUrl {
            url: url("https://crm.example.com/hook"),
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn rotate_secret_keeps_the_old_one_for_the_grace_period() {
    let s = services();
    let events = Framework::with(s.clone())
        .given(vec![registered()])
        .when_async(Cmd::RotateSecret {
            secret: secret(NEW_SECRET),
            grace_period: None,
        })
        .await
        .inspect_result()
        .expect("rotated");
    let [Ev::EndpointSecretRotated {
        secret: new,
        previous_secret,
        previous_expires_at,
        rotated_at,
        ..
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(previous_secret, &sealed("old"));
    assert_eq!(*previous_expires_at, t0() + Duration::hours(24));
    assert_eq!(*rotated_at, t0());
    assert_eq!(
        WebhookSecret::decrypt(&*s.cipher, new).expect("decrypts"),
        secret(NEW_SECRET)
    );
}

#[tokio::test]
async fn rotate_secret_with_a_custom_or_too_long_grace_period() {
    let events = Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::RotateSecret {
            secret: secret(NEW_SECRET),
            grace_period: Some(StdDuration::from_secs(3600)),
        })
        .await
        .inspect_result()
        .expect("rotated");
    assert!(matches!(&events[..],
        [Ev::EndpointSecretRotated { previous_expires_at, .. }] if *previous_expires_at == t0() + Duration::hours(1)));
    let result = Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::RotateSecret {
            secret: secret(NEW_SECRET),
            grace_period: Some(StdDuration::from_secs(8 * 24 * 3600)),
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::GracePeriodTooLong)));
}

#[tokio::test]
async fn both_secrets_sign_during_the_grace_period_only() {
    let (s, clock) = services_with_clock();
    let mut endpoint = Endpoint::default();
    execute(&mut endpoint, register(None), &s)
        .await
        .expect("register");
    let first = endpoint.signing_secrets(t0());
    assert_eq!(first.len(), 1);
    clock.advance(Duration::hours(1));
    execute(
        &mut endpoint,
        Cmd::RotateSecret {
            secret: secret(NEW_SECRET),
            grace_period: None,
        },
        &s,
    )
    .await
    .expect("rotate");
    let during = endpoint.signing_secrets(t0() + Duration::hours(2));
    assert_eq!(during.len(), 2);
    assert_eq!(during[1], first[0]);
    let decrypted = WebhookSecret::decrypt(&*s.cipher, &during[0]).expect("decrypts");
    assert_eq!(decrypted, secret(NEW_SECRET));
    let after = endpoint.signing_secrets(t0() + Duration::hours(25));
    assert_eq!(after, vec![during[0].clone()]);
    let d = endpoint.details().expect("registered");
    assert_eq!(
        active_secrets(
            &d.secret,
            d.previous_secret.as_ref(),
            d.previous_expires_at,
            t0()
        ),
        during
    );
}

#[tokio::test]
async fn change_retry_policy() {
    let policy =
        RetryPolicy::new(vec![StdDuration::ZERO, StdDuration::from_secs(60)]).expect("valid");
    Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::ChangeRetryPolicy {
            retry_policy: Some(policy.clone()),
        })
        .await
        .then_expect_events(vec![Ev::EndpointRetryPolicyChanged {
            endpoint_id: ID,
            retry_policy: Some(policy),
            changed_at: t0(),
        }]);
    Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::ChangeRetryPolicy { retry_policy: None })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn the_effective_policy_is_the_override_else_the_default() {
    let s = services();
    let mut endpoint = Endpoint::default();
    execute(&mut endpoint, register(None), &s)
        .await
        .expect("register");
    assert_eq!(endpoint.effective_retry_policy(), RetryPolicy::default());
    let policy = RetryPolicy::new(vec![StdDuration::ZERO]).expect("valid");
    execute(
        &mut endpoint,
        Cmd::ChangeRetryPolicy {
            retry_policy: Some(policy.clone()),
        },
        &s,
    )
    .await
    .expect("change");
    assert_eq!(endpoint.effective_retry_policy(), policy);
}

#[tokio::test]
async fn disable_for_each_reason_and_not_twice() {
    for reason in [
        DisableReason::Manual,
        DisableReason::CircuitBreaker,
        DisableReason::Gone,
    ] {
        Framework::with(services())
            .given(vec![registered()])
            .when_async(Cmd::Disable { reason })
            .await
            .then_expect_events(vec![disabled(reason)]);
        let result = Framework::with(services())
            .given(vec![registered(), disabled(reason)])
            .when_async(Cmd::Disable {
                reason: DisableReason::Manual,
            })
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::AlreadyDisabled)));
    }
}

#[tokio::test]
async fn enable_only_a_disabled_endpoint() {
    Framework::with(services())
        .given(vec![registered(), disabled(DisableReason::CircuitBreaker)])
        .when_async(Cmd::Enable)
        .await
        .then_expect_events(vec![Ev::EndpointEnabled {
            endpoint_id: ID,
            enabled_at: t0(),
        }]);
    let result = Framework::with(services())
        .given(vec![registered()])
        .when_async(Cmd::Enable)
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::NotDisabled)));
}

#[tokio::test]
async fn delete_from_active_or_disabled() {
    for history in [
        vec![registered()],
        vec![registered(), disabled(DisableReason::Manual)],
    ] {
        Framework::with(services())
            .given(history)
            .when_async(Cmd::Delete)
            .await
            .then_expect_events(vec![deleted()]);
    }
}

#[tokio::test]
async fn the_state_follows_the_events() {
    let s = services();
    let mut endpoint = Endpoint::default();
    execute(&mut endpoint, register(None), &s)
        .await
        .expect("register");
    let status = |e: &Endpoint| e.details().map(|d| (d.status, d.disabled_reason));
    assert_eq!(status(&endpoint), Some((EndpointStatus::Active, None)));
    execute(
        &mut endpoint,
        Cmd::Disable {
            reason: DisableReason::Gone,
        },
        &s,
    )
    .await
    .expect("disable");
    assert_eq!(
        status(&endpoint),
        Some((EndpointStatus::Disabled, Some(DisableReason::Gone)))
    );
    execute(&mut endpoint, Cmd::Enable, &s)
        .await
        .expect("enable");
    execute(&mut endpoint, Cmd::Delete, &s)
        .await
        .expect("delete");
    assert_eq!(status(&endpoint), Some((EndpointStatus::Deleted, None)));
}
