//! Live projection lag (the `lag` scenario): how long after its 202 each event is
//! behind a subscription's checkpoint.
//!
//! A sampler on a thread and a connection of its own reads the checkpoints of the
//! read-model projector and the router every [`SAMPLE_EVERY`], noting when each
//! answer arrived. After the load, every `EventReceived` of the run is read back
//! with its place in the global order, and its lag is the time of the first sample
//! whose cursor had reached it, minus the time its 202 reached the client (which
//! is after its commit). The sample's time is when its answer arrived, so a lag is
//! over-stated by at most one sample interval plus one query.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::report::{LagFigures, SubscriptionLag};
use super::stats::{ms, Percentiles};

/// How often the sampler reads the checkpoints.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// The subscriptions whose lag is measured: the read-model projector, and the
/// router (which waits for the projector).
pub const SUBSCRIPTIONS: [&str; 2] = [projections::read_models::NAME, "router"];

/// A place in the global order of the log: `(tx_id, position)`, compared in that
/// order, as subscriptions read it.
pub type Cursor = (i64, i64);

/// One reading of the checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When the answer arrived, in ns since the benchmark's start.
    pub at_ns: u64,
    /// Each of [`SUBSCRIPTIONS`]' cursor, in that order.
    pub cursors: [Cursor; 2],
}

/// One event of the run: its place in the log and when the client had its 202.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Its `(tx_id, position)`.
    pub cursor: Cursor,
    /// When its 202 arrived, in ns since the benchmark's start.
    pub accepted_ns: u64,
}

/// The lags of one subscription.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lags {
    /// Per event the checkpoint reached: first sample at or past it − its 202.
    pub lags: Vec<Duration>,
    /// Of those, events the checkpoint had reached before the 202 arrived (lag 0).
    pub before_accepted: u64,
    /// Events no sample showed the checkpoint reaching.
    pub never_reached: u64,
}

/// The lag of every event behind one subscription's `(time, cursor)` samples,
/// sorted by time. Cursors need not only grow: the first sample at or past the
/// event counts.
pub fn lags(samples: &[(u64, Cursor)], events: &[Accepted]) -> Lags {
    // The largest cursor seen up to each sample: it first reaches an event's place
    // at the same sample as the cursor itself, and it is sorted, so searchable.
    let reached: Vec<Cursor> = samples
        .iter()
        .scan((i64::MIN, i64::MIN), |max, &(_, cursor)| {
            *max = (*max).max(cursor);
            Some(*max)
        })
        .collect();
    let mut out = Lags::default();
    for event in events {
        let first = reached.partition_point(|&c| c < event.cursor);
        match samples.get(first) {
            Some(&(at_ns, _)) if at_ns <= event.accepted_ns => {
                out.before_accepted += 1;
                out.lags.push(Duration::ZERO);
            }
            Some(&(at_ns, _)) => out
                .lags
                .push(Duration::from_nanos(at_ns - event.accepted_ns)),
            None => out.never_reached += 1,
        }
    }
    out
}

/// The figures of a run: per subscription, and the sampling's resolution.
pub fn figures(samples: &[Sample], events: &[Accepted]) -> LagFigures {
    let gaps: Vec<u64> = samples
        .windows(2)
        .map(|w| w[1].at_ns.saturating_sub(w[0].at_ns))
        .collect();
    let mean_gap = if gaps.is_empty() {
        0
    } else {
        gaps.iter().sum::<u64>() / gaps.len() as u64
    };
    let subscriptions: BTreeMap<String, SubscriptionLag> = SUBSCRIPTIONS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let series: Vec<(u64, Cursor)> =
                samples.iter().map(|s| (s.at_ns, s.cursors[i])).collect();
            let lags = lags(&series, events);
            let lag = SubscriptionLag {
                lag: Percentiles::of(lags.lags),
                before_accepted: lags.before_accepted,
                never_reached: lags.never_reached,
            };
            ((*name).to_owned(), lag)
        })
        .collect();
    LagFigures {
        events: events.len() as u64,
        samples: samples.len() as u64,
        sample_interval_ms: ms(Duration::from_nanos(mean_gap)),
        max_sample_gap_ms: ms(Duration::from_nanos(
            gaps.iter().copied().max().unwrap_or(0),
        )),
        subscriptions,
    }
}

/// The run's `EventReceived` events of `event_type` that the client saw accepted
/// (`accepted_ns` by sequence number), with their place in the log.
pub async fn accepted_events(
    pool: &PgPool,
    event_type: &str,
    accepted_ns: &HashMap<u64, u64>,
) -> anyhow::Result<Vec<Accepted>> {
    let rows = sqlx::query!(
        r#"SELECT (tx_id::text)::bigint AS "tx!", position,
                  (payload -> 'EventReceived' -> 'payload' ->> 'seq')::bigint AS seq
           FROM events
           WHERE aggregate_type = 'IntegrationEvent' AND event_type = 'EventReceived'
             AND payload -> 'EventReceived' ->> 'event_type' = $1"#,
        event_type,
    )
    .fetch_all(pool)
    .await
    .context("reading the run's events")?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (tx, position, seq) = (row.tx, row.position, row.seq);
            let accepted_ns = *accepted_ns.get(&u64::try_from(seq?).ok()?)?;
            Some(Accepted {
                cursor: (tx, position),
                accepted_ns,
            })
        })
        .collect())
}

/// Reads the checkpoints every [`SAMPLE_EVERY`] on a thread and a connection of
/// its own, so that neither the load's tasks nor the small pool delay it.
#[derive(Debug)]
pub struct CheckpointSampler {
    stop: CancellationToken,
    latest: watch::Receiver<Option<Sample>>,
    done: oneshot::Receiver<anyhow::Result<Vec<Sample>>>,
}

impl CheckpointSampler {
    /// Connects to `database_url` and starts sampling; times are since `start`.
    pub async fn start(database_url: &str, start: Instant) -> anyhow::Result<Self> {
        let conn = PgConnection::connect(database_url)
            .await
            .context("connecting the checkpoint sampler")?;
        let stop = CancellationToken::new();
        let (latest_tx, latest) = watch::channel(None);
        let (done_tx, done) = oneshot::channel();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("checkpoint-sampler".into())
            .spawn(move || {
                let outcome = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("the sampler's runtime")
                    .and_then(|rt| rt.block_on(sample(conn, start, stopped, latest_tx)));
                let _ = done_tx.send(outcome);
            })
            .context("starting the checkpoint sampler")?;
        Ok(Self { stop, latest, done })
    }

    /// Waits until every subscription's checkpoint is at or past `target`, or
    /// `deadline`; whether it got there.
    pub async fn wait_for(&mut self, target: Cursor, deadline: Instant) -> bool {
        let reached =
            |s: &Option<Sample>| s.is_some_and(|s| s.cursors.iter().all(|&c| c >= target));
        tokio::select! {
            outcome = self.latest.wait_for(reached) => outcome.is_ok(),
            _ = tokio::time::sleep_until(deadline.into()) => false,
        }
    }

    /// Stops sampling; every sample, oldest first.
    pub async fn stop(self) -> anyhow::Result<Vec<Sample>> {
        self.stop.cancel();
        self.done
            .await
            .context("the checkpoint sampler ended without its samples")?
    }
}

async fn sample(
    mut conn: PgConnection,
    start: Instant,
    stop: CancellationToken,
    latest: watch::Sender<Option<Sample>>,
) -> anyhow::Result<Vec<Sample>> {
    let names: Vec<String> = SUBSCRIPTIONS.iter().map(|&n| n.to_owned()).collect();
    let mut samples = Vec::with_capacity(32_768);
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let rows = sqlx::query!(
            r#"SELECT name::text AS "name!", (tx_id::text)::bigint AS "tx!", position
               FROM subscription_checkpoints WHERE name = ANY($1)"#,
            &names,
        )
        .fetch_all(&mut conn)
        .await
        .context("reading the checkpoints")?;
        let at_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut cursors = [(0, 0); 2];
        for row in rows {
            let (name, tx, position) = (row.name, row.tx, row.position);
            if let Some(i) = names.iter().position(|n| *n == name) {
                cursors[i] = (tx, position);
            }
        }
        let reading = Sample { at_ns, cursors };
        samples.push(reading);
        latest.send_replace(Some(reading));
    }
    let _ = conn.close().await;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tx: i64, position: i64, accepted_ns: u64) -> Accepted {
        Accepted {
            cursor: (tx, position),
            accepted_ns,
        }
    }

    #[test]
    fn each_event_waits_for_the_first_sample_at_or_past_it() {
        // (time ns, cursor): the checkpoint moves by transaction, then by position.
        let samples = [
            (100, (5, 10)),
            (200, (5, 10)),
            (300, (6, 12)),
            (400, (8, 11)),
            (500, (9, 20)),
        ];
        let cases = [
            // (event, accepted ns, expected lag ns): an exact match counts,
            (event(6, 12, 250), Some(50)),
            // a later transaction with a smaller position is later in the order,
            (event(7, 3, 250), Some(150)),
            (event(8, 11, 390), Some(10)),
            // an earlier position of the same transaction was passed earlier,
            (event(6, 11, 280), Some(20)),
            // the checkpoint was there before the 202 came back: lag 0,
            (event(5, 9, 150), Some(0)),
            (event(5, 10, 100), Some(0)),
            // no sample reached it.
            (event(9, 21, 450), None),
            (event(10, 1, 450), None),
        ];
        for (ev, want) in cases {
            let got = lags(&samples, &[ev]);
            let got_lag = got.lags.first().map(|d| d.as_nanos() as u64);
            assert_eq!(got_lag, want, "event {ev:?}");
            assert_eq!(got.never_reached, u64::from(want.is_none()), "event {ev:?}");
            assert_eq!(
                got.before_accepted,
                u64::from(want == Some(0)),
                "event {ev:?}"
            );
        }
    }

    #[test]
    fn a_cursor_that_steps_back_does_not_hide_where_it_had_been() {
        let samples = [(100, (3, 3)), (200, (9, 9)), (300, (4, 4)), (400, (9, 9))];
        let got = lags(&samples, &[event(5, 5, 150), event(9, 9, 100)]);
        assert_eq!(
            got.lags,
            [Duration::from_nanos(50), Duration::from_nanos(100)]
        );
    }

    #[test]
    fn no_samples_reach_nothing() {
        let got = lags(&[], &[event(1, 1, 0)]);
        assert_eq!((got.lags.len(), got.never_reached), (0, 1));
    }

    #[test]
    fn figures_give_the_resolution_and_each_subscription() {
        let samples = [
            Sample {
                at_ns: 1_000_000,
                cursors: [(1, 1), (0, 0)],
            },
            Sample {
                at_ns: 3_000_000,
                cursors: [(2, 2), (1, 1)],
            },
            Sample {
                at_ns: 7_000_000,
                cursors: [(2, 2), (2, 2)],
            },
        ];
        let f = figures(&samples, &[event(2, 2, 1_000_000)]);
        assert_eq!((f.events, f.samples), (1, 3));
        assert_eq!((f.sample_interval_ms, f.max_sample_gap_ms), (3.0, 4.0));
        assert_eq!(f.subscriptions["read_models"].lag.max_ms, 2.0);
        assert_eq!(f.subscriptions["router"].lag.max_ms, 6.0);
    }
}
