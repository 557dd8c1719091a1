use cqrs_es::test::TestFramework;
use domain::status::JobStatus;
use domain::sync_job::{stream_id, JOB_DEAD_LETTER_REPLAY};
use domain::values::JobType;
use domain::{
    SyncJob, SyncJobCommand as Cmd, SyncJobError as Error, SyncJobEvent as Ev, SyncJobId,
};
use serde_json::json;

use crate::common::{services, t0};

type Framework = TestFramework<SyncJob>;

const ID: SyncJobId = SyncJobId::new(11);

fn start() -> Cmd {
    Cmd::Start {
        job_id: ID,
        job_type: JobType::parse(JOB_DEAD_LETTER_REPLAY).expect("valid"),
        parameters: json!({"endpoint_id": 7}),
    }
}

fn started() -> Ev {
    Ev::SyncJobStarted {
        job_id: ID,
        job_type: JobType::parse(JOB_DEAD_LETTER_REPLAY).expect("valid"),
        parameters: json!({"endpoint_id": 7}),
        started_at: t0(),
    }
}

fn progressed(done: u64, total: u64) -> Ev {
    Ev::SyncJobProgressed {
        job_id: ID,
        done,
        total,
        reported_at: t0(),
    }
}

fn finished() -> Vec<(Ev, JobStatus)> {
    vec![
        (
            Ev::SyncJobSucceeded {
                job_id: ID,
                finished_at: t0(),
            },
            JobStatus::Succeeded,
        ),
        (
            Ev::SyncJobFailed {
                job_id: ID,
                reason: "db down".into(),
                finished_at: t0(),
            },
            JobStatus::Failed,
        ),
        (
            Ev::SyncJobCancelled {
                job_id: ID,
                reason: None,
                finished_at: t0(),
            },
            JobStatus::Cancelled,
        ),
    ]
}

#[test]
fn stream_id_is_the_job_id() {
    assert_eq!(stream_id(ID), "11");
}

#[tokio::test]
async fn start_runs_the_job() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(start())
        .await
        .then_expect_events(vec![started()]);
}

#[tokio::test]
async fn start_twice_is_rejected() {
    let result = Framework::with(services())
        .given(vec![started()])
        .when_async(start())
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::AlreadyStarted)));
}

#[tokio::test]
async fn commands_before_start_are_rejected() {
    for cmd in [
        Cmd::ReportProgress { done: 1, total: 2 },
        Cmd::Succeed,
        Cmd::Fail { reason: "x".into() },
        Cmd::Cancel { reason: None },
    ] {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(cmd)
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::NotStarted)));
    }
}

#[tokio::test]
async fn progress_moves_forward_and_the_total_may_change() {
    Framework::with(services())
        .given(vec![started(), progressed(10, 100)])
        .when_async(Cmd::ReportProgress {
            done: 10,
            total: 120,
        })
        .await
        .then_expect_events(vec![progressed(10, 120)]);
}

#[tokio::test]
async fn progress_beyond_the_total_or_backwards_is_rejected() {
    let result = Framework::with(services())
        .given(vec![started()])
        .when_async(Cmd::ReportProgress { done: 5, total: 4 })
        .await
        .inspect_result();
    assert!(matches!(
        result,
        Err(Error::ProgressExceedsTotal { done: 5, total: 4 })
    ));
    let result = Framework::with(services())
        .given(vec![started(), progressed(10, 100)])
        .when_async(Cmd::ReportProgress {
            done: 9,
            total: 100,
        })
        .await
        .inspect_result();
    assert!(matches!(
        result,
        Err(Error::ProgressWentBackwards {
            done: 9,
            previous: 10
        })
    ));
}

#[tokio::test]
async fn succeed_fail_and_cancel() {
    let commands = [
        Cmd::Succeed,
        Cmd::Fail {
            reason: "db down".into(),
        },
        Cmd::Cancel { reason: None },
    ];
    for (cmd, (event, _)) in commands.into_iter().zip(finished()) {
        Framework::with(services())
            .given(vec![started(), progressed(1, 2)])
            .when_async(cmd)
            .await
            .then_expect_events(vec![event]);
    }
}

#[tokio::test]
async fn fail_needs_a_reason() {
    let result = Framework::with(services())
        .given(vec![started()])
        .when_async(Cmd::Fail { reason: " ".into() })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::EmptyReason)));
}

#[tokio::test]
async fn a_finished_job_accepts_nothing() {
    for (event, expected) in finished() {
        for cmd in [
            Cmd::ReportProgress { done: 1, total: 2 },
            Cmd::Succeed,
            Cmd::Fail { reason: "x".into() },
            Cmd::Cancel { reason: None },
        ] {
            let result = Framework::with(services())
                .given(vec![started(), event.clone()])
                .when_async(cmd)
                .await
                .inspect_result();
            assert!(
                matches!(result, Err(Error::Finished { status }) if status == expected),
                "{expected:?}"
            );
        }
    }
}
