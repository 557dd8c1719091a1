use cqrs_es::test::TestFramework;
use domain::event_mapping::stream_id;
use domain::mapping::MappingError;
use domain::values::{EventType, SystemName};
use domain::{
    EventMapping, EventMappingCommand as Cmd, EventMappingError as Error, EventMappingEvent as Ev,
    MappingId,
};

use crate::common::{execute, services, t0};

type Framework = TestFramework<EventMapping>;

fn event_type() -> EventType {
    EventType::parse("order.created").expect("valid")
}

fn target() -> SystemName {
    SystemName::parse("crm").expect("valid")
}

fn publish(id: i64, program: &str, version: Option<u32>) -> Cmd {
    Cmd::Publish {
        mapping_id: MappingId::new(id),
        event_type: event_type(),
        target_system: target(),
        program: program.into(),
        version,
    }
}

fn published(id: i64, version: u32) -> Ev {
    Ev::MappingPublished {
        mapping_id: MappingId::new(id),
        event_type: event_type(),
        target_system: target(),
        version,
        program: "{id: .order}".into(),
        published_at: t0(),
    }
}

fn retired(id: i64, version: u32) -> Ev {
    Ev::MappingRetired {
        mapping_id: MappingId::new(id),
        event_type: event_type(),
        target_system: target(),
        version,
        retired_at: t0(),
    }
}

#[test]
fn stream_id_is_event_type_and_target() {
    assert_eq!(stream_id(&event_type(), &target()), "order.created:crm");
}

#[tokio::test]
async fn the_first_publish_is_version_1() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(publish(1, "{id: .order}", None))
        .await
        .then_expect_events(vec![published(1, 1)]);
}

#[tokio::test]
async fn a_publish_without_version_takes_the_next_one() {
    Framework::with(services())
        .given(vec![published(1, 1), published(2, 4)])
        .when_async(publish(3, "{id: .order}", None))
        .await
        .then_expect_events(vec![published(3, 5)]);
}

#[tokio::test]
async fn an_explicit_higher_version_is_accepted() {
    Framework::with(services())
        .given(vec![published(1, 1)])
        .when_async(publish(2, "{id: .order}", Some(10)))
        .await
        .then_expect_events(vec![published(2, 10)]);
}

#[tokio::test]
async fn an_explicit_equal_lower_or_zero_version_is_rejected() {
    for (history, given, latest) in [
        (vec![published(1, 3)], 3, 3),
        (vec![published(1, 3)], 2, 3),
        (vec![], 0, 0),
    ] {
        let result = Framework::with(services())
            .given(history)
            .when_async(publish(2, "{id: .order}", Some(given)))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(Error::VersionNotIncreasing { given: g, latest: l }) if g == given && l == latest),
            "{given}"
        );
    }
}

#[tokio::test]
async fn a_program_that_does_not_compile_is_rejected_with_its_position() {
    let result = Framework::with(services())
        .given_no_previous_events()
        .when_async(publish(1, "{id: .order,\n name: (.x | }", None))
        .await
        .inspect_result();
    assert!(
        matches!(
            &result,
            Err(Error::InvalidProgram(MappingError::Compile { line: 2, message, .. })) if message.contains("expected")
        ),
        "{result:?}"
    );
    let result = Framework::with(services())
        .given_no_previous_events()
        .when_async(publish(1, "nosuchfilter", None))
        .await
        .inspect_result();
    assert!(matches!(
        result,
        Err(Error::InvalidProgram(MappingError::Compile {
            offset: 0,
            line: 1,
            column: 1,
            ..
        }))
    ));
}

#[tokio::test]
async fn a_publish_for_another_identity_is_rejected() {
    let result = Framework::with(services())
        .given(vec![published(1, 1)])
        .when_async(Cmd::Publish {
            mapping_id: MappingId::new(2),
            event_type: event_type(),
            target_system: SystemName::parse("erp").expect("valid"),
            program: ".".into(),
            version: None,
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::IdentityMismatch { .. })));
}

#[tokio::test]
async fn retire_the_live_version() {
    Framework::with(services())
        .given(vec![published(1, 1), published(2, 2)])
        .when_async(Cmd::Retire)
        .await
        .then_expect_events(vec![retired(2, 2)]);
}

#[tokio::test]
async fn retire_before_publish_or_twice_is_rejected() {
    let result = Framework::with(services())
        .given_no_previous_events()
        .when_async(Cmd::Retire)
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::NotPublished)));
    let result = Framework::with(services())
        .given(vec![published(1, 1), retired(1, 1)])
        .when_async(Cmd::Retire)
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::AlreadyRetired)));
}

#[tokio::test]
async fn publishing_after_retirement_makes_the_mapping_live_again() {
    Framework::with(services())
        .given(vec![published(1, 1), retired(1, 1)])
        .when_async(publish(2, "{id: .order}", None))
        .await
        .then_expect_events(vec![published(2, 2)]);
    let s = services();
    let mut mapping = EventMapping::default();
    execute(&mut mapping, publish(1, ".", None), &s)
        .await
        .expect("publish");
    assert_eq!(mapping.live().map(|m| m.version), Some(1));
    execute(&mut mapping, Cmd::Retire, &s)
        .await
        .expect("retire");
    assert!(mapping.live().is_none());
    assert_eq!(mapping.latest().map(|m| m.version), Some(1));
}
