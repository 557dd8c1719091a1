//! Property tests: random command sequences against every aggregate.
//!
//! Each sequence runs the commands one after another on one aggregate. After each
//! command: a rejection leaves the state untouched; every status change an event
//! makes is allowed by the status enum's transition table; nothing leaves a
//! terminal state except the explicit paths (a delivery's requeue, an endpoint's
//! enable); and the events applied one by one give the state `handle` left.

use std::fmt::Debug;
use std::time::Duration;

use cqrs_es::Aggregate;
use domain::endpoint::DisableReason;
use domain::integration_event::{Channel, RoutedDelivery};
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::scope::Permissions;
use domain::secrets::{ApiKeyHash, WebhookSecret};
use domain::status::{ApiKeyStatus, DeliveryStatus, EndpointStatus, EventStatus, JobStatus};
use domain::values::{EndpointUrl, EventKey, EventType, JobType, Payload, SystemName};
use domain::*;
use proptest::prelude::*;

use crate::common::{execute, runtime, services};

/// Runs `commands`, checking the invariants above; returns every event emitted.
fn run_checked<A, S>(
    commands: Vec<A::Command>,
    status: impl Fn(&A) -> Option<S>,
    allowed: impl Fn(S, S) -> bool,
    may_leave: impl Fn(S, S, &A::Event) -> bool,
) -> Result<Vec<A::Event>, TestCaseError>
where
    A: Aggregate<Services = Services> + Clone + PartialEq + Debug,
    S: Copy + PartialEq + Debug,
{
    let rt = runtime();
    let services = services();
    let mut aggregate = A::default();
    let mut all = Vec::new();
    for command in commands {
        let before = aggregate.clone();
        match rt.block_on(execute(&mut aggregate, command, &services)) {
            Err(_) => prop_assert_eq!(&aggregate, &before),
            Ok(events) => {
                let mut shadow = before;
                for event in events {
                    let prev = status(&shadow);
                    shadow.apply(event.clone());
                    let next = status(&shadow);
                    if let (Some(p), Some(n)) = (prev, next) {
                        if p != n {
                            prop_assert!(allowed(p, n), "{:?} -> {:?} by {:?}", p, n, event);
                            prop_assert!(
                                may_leave(p, n, &event),
                                "{:?} -> {:?} by {:?}",
                                p,
                                n,
                                event
                            );
                        }
                    }
                    all.push(event);
                }
                prop_assert_eq!(&shadow, &aggregate);
            }
        }
    }
    Ok(all)
}

fn outcome() -> impl Strategy<Value = AttemptOutcome> {
    prop_oneof![
        (200u16..600, proptest::option::of(0u64..100_000)).prop_map(
            |(status, retry_after_secs)| {
                AttemptOutcome::Response {
                    status,
                    retry_after_secs,
                }
            }
        ),
        Just(AttemptOutcome::Response {
            status: 410,
            retry_after_secs: None
        }),
        Just(AttemptOutcome::Timeout),
        Just(AttemptOutcome::ConnectionError {
            message: "refused".into()
        }),
        Just(AttemptOutcome::MappingError {
            message: "boom".into()
        }),
    ]
}

fn delivery_command(policy: RetryPolicy) -> impl Strategy<Value = DeliveryCommand> {
    prop_oneof![
        1 => Just(DeliveryCommand::Schedule {
            delivery_id: DeliveryId::new(1),
            event_id: EventId::new(2),
            event_received_at: crate::common::t0(),
            endpoint_id: EndpointId::new(3),
            event_type: EventType::parse("t").expect("valid"),
            mapping_id: MappingId::new(4),
            mapping_version: 1,
            due_at: None,
            order: None,
        }),
        6 => outcome().prop_map(move |outcome| DeliveryCommand::RecordAttempt {
            outcome,
            duration_ms: 1,
            response_excerpt: None,
            attempted_at: crate::common::t0(),
            retry_policy: policy.clone(),
        }),
        1 => Just(DeliveryCommand::Requeue { reason: None, job_id: None, due_at: None }),
        1 => Just(DeliveryCommand::Cancel { reason: None }),
    ]
}

fn delivery_case() -> impl Strategy<Value = (RetryPolicy, Vec<DeliveryCommand>)> {
    proptest::collection::vec(0u64..3600, 1..6)
        .prop_map(|secs| {
            RetryPolicy::new(secs.into_iter().map(Duration::from_secs).collect()).expect("valid")
        })
        .prop_flat_map(|policy| {
            let commands = proptest::collection::vec(delivery_command(policy.clone()), 0..40);
            (Just(policy), commands)
        })
}

fn endpoint_command() -> impl Strategy<Value = EndpointCommand> {
    let url = |u: &str| EndpointUrl::parse(u).expect("valid");
    prop_oneof![
        Just(EndpointCommand::Register {
            endpoint_id: EndpointId::new(1),
            system_name: SystemName::parse("crm").expect("valid"),
            url: url("https://a.example.com/"),
            secret: WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid"),
            retry_policy: None,
            timeout: None,
            ordering: Default::default(),
        }),
        prop_oneof![
            Just("https://a.example.com/"),
            Just("https://b.example.com/")
        ]
        .prop_map(move |u| EndpointCommand::ChangeUrl { url: url(u) }),
        Just(EndpointCommand::RotateSecret {
            secret: WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("valid"),
            grace_period: None,
        }),
        proptest::option::of(Just(RetryPolicy::default()))
            .prop_map(|retry_policy| EndpointCommand::ChangeRetryPolicy { retry_policy }),
        prop_oneof![
            Just(DisableReason::Manual),
            Just(DisableReason::CircuitBreaker),
            Just(DisableReason::Gone)
        ]
        .prop_map(|reason| EndpointCommand::Disable { reason }),
        Just(EndpointCommand::Enable),
        Just(EndpointCommand::Delete),
    ]
}

fn api_key_command() -> impl Strategy<Value = ApiKeyCommand> {
    prop_oneof![
        Just(ApiKeyCommand::Issue {
            key_id: ApiKeyId::new(1),
            name: "k".into(),
            permissions: Permissions::parse(["admin"]).expect("valid"),
            rate_limit_per_minute: None,
            key_hash: ApiKeyHash::of_key("ilk_x"),
            prefix: "ilk_x".into(),
        }),
        Just(ApiKeyCommand::Revoke { reason: None }),
    ]
}

fn sync_job_command() -> impl Strategy<Value = SyncJobCommand> {
    prop_oneof![
        Just(SyncJobCommand::Start {
            job_id: SyncJobId::new(1),
            job_type: JobType::parse("rebuild").expect("valid"),
            parameters: serde_json::json!({}),
        }),
        (0u64..20, 0u64..20)
            .prop_map(|(done, total)| SyncJobCommand::ReportProgress { done, total }),
        Just(SyncJobCommand::Succeed),
        Just(SyncJobCommand::Fail { reason: "x".into() }),
        Just(SyncJobCommand::Cancel { reason: None }),
    ]
}

fn integration_event_command() -> impl Strategy<Value = IntegrationEventCommand> {
    prop_oneof![
        (1i64..1000, any::<u8>()).prop_map(|(id, n)| IntegrationEventCommand::Receive {
            event_id: EventId::new(id),
            event_type: EventType::parse("t").expect("valid"),
            source_system: SystemName::parse("erp").expect("valid"),
            event_key: EventKey::parse("k").expect("valid"),
            payload: Payload::new(serde_json::json!({"n": n})),
            channel: Channel::Rest,
        }),
        (0usize..3).prop_map(|n| IntegrationEventCommand::RecordRouting {
            deliveries: (1..=n)
                .map(|i| RoutedDelivery {
                    delivery_id: DeliveryId::new(i as i64),
                    endpoint_id: EndpointId::new(i as i64),
                    mapping_id: MappingId::new(1),
                    mapping_version: 1,
                })
                .collect(),
        }),
    ]
}

fn event_mapping_command() -> impl Strategy<Value = EventMappingCommand> {
    prop_oneof![
        3 => (1i64..100, proptest::option::of(0u32..10), prop_oneof![Just("."), Just("{a: .b}"), Just("{a:")])
            .prop_map(|(id, version, program)| EventMappingCommand::Publish {
                mapping_id: MappingId::new(id),
                event_type: EventType::parse("t").expect("valid"),
                target_system: SystemName::parse("crm").expect("valid"),
                program: program.into(),
                version,
            }),
        1 => Just(EventMappingCommand::Retire),
    ]
}

proptest! {
    #[test]
    fn deliveries_leave_terminal_states_only_by_requeue((policy, commands) in delivery_case()) {
        let max = policy.max_attempts();
        let events = run_checked::<Delivery, _>(
            commands,
            |d| d.state().map(|s| s.status),
            DeliveryStatus::can_transition,
            |from, _to, event| {
                !from.is_final_for_attempts() || matches!(event, DeliveryEvent::DeliveryRequeued { .. })
            },
        )?;
        // Every attempt is followed by exactly one outcome event.
        for pair in events.windows(2) {
            if let DeliveryEvent::AttemptRecorded { .. } = pair[0] {
                let followed = matches!(
                    pair[1],
                    DeliveryEvent::DeliverySucceeded { .. }
                        | DeliveryEvent::DeliveryRetryScheduled { .. }
                        | DeliveryEvent::DeliveryDeadLettered { .. }
                );
                prop_assert!(followed, "{:?}", pair);
            }
        }
        // No cycle has more attempts than the policy allows.
        let mut cycle = 0;
        for event in &events {
            match event {
                DeliveryEvent::AttemptRecorded { .. } => {
                    cycle += 1;
                    prop_assert!(cycle <= max);
                }
                DeliveryEvent::DeliveryRequeued { .. } => cycle = 0,
                _ => {}
            }
        }
    }

    #[test]
    fn endpoints_stay_deleted_and_come_back_only_by_enable(
        commands in proptest::collection::vec(endpoint_command(), 0..30)
    ) {
        run_checked::<Endpoint, _>(
            commands,
            |e| e.details().map(|d| d.status),
            EndpointStatus::can_transition,
            |from, to, event| match (from, to) {
                (EndpointStatus::Deleted, _) => false,
                (EndpointStatus::Disabled, EndpointStatus::Active) => {
                    matches!(event, EndpointEvent::EndpointEnabled { .. })
                }
                _ => true,
            },
        )?;
    }

    #[test]
    fn revoked_keys_stay_revoked(commands in proptest::collection::vec(api_key_command(), 0..10)) {
        run_checked::<ApiKey, _>(
            commands,
            |k| k.details().map(|d| d.status),
            ApiKeyStatus::can_transition,
            |from, _, _| !from.is_terminal(),
        )?;
    }

    #[test]
    fn finished_jobs_stay_finished(commands in proptest::collection::vec(sync_job_command(), 0..20)) {
        run_checked::<SyncJob, _>(
            commands,
            |j| j.details().map(|d| d.status),
            JobStatus::can_transition,
            |from, _, _| !from.is_terminal(),
        )?;
    }

    #[test]
    fn duplicate_receive_never_emits_a_second_event(
        commands in proptest::collection::vec(integration_event_command(), 0..20)
    ) {
        let first_id = commands.iter().find_map(|c| match c {
            IntegrationEventCommand::Receive { event_id, .. } => Some(*event_id),
            _ => None,
        });
        let events = run_checked::<IntegrationEvent, _>(
            commands,
            |e| e.details().map(|d| d.status),
            EventStatus::can_transition,
            |from, _, _| from == EventStatus::Received,
        )?;
        let received: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                IntegrationEventEvent::EventReceived { event_id, .. } => Some(*event_id),
                _ => None,
            })
            .collect();
        prop_assert!(received.len() <= 1);
        prop_assert_eq!(received.first().copied(), first_id);
        let routings = events
            .iter()
            .filter(|e| !matches!(e, IntegrationEventEvent::EventReceived { .. }))
            .count();
        prop_assert!(routings <= 1);
    }

    #[test]
    fn mapping_versions_strictly_increase(
        commands in proptest::collection::vec(event_mapping_command(), 0..20)
    ) {
        let events = run_checked::<EventMapping, _>(
            commands,
            |m| m.latest().map(|l| l.retired),
            |_, _| true,
            |_, _, _| true,
        )?;
        let versions: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                EventMappingEvent::MappingPublished { version, .. } => Some(*version),
                _ => None,
            })
            .collect();
        prop_assert!(versions.windows(2).all(|w| w[0] < w[1]), "{:?}", versions);
        prop_assert!(versions.iter().all(|v| *v >= 1));
    }
}
