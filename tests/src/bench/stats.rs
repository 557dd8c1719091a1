//! Latency percentiles from a sorted vector (nearest rank), in milliseconds.

use std::time::Duration;

use serde::Serialize;

/// p50, p95, p99 and max of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Percentiles {
    /// The percentiles of `samples` (all zero when there are none).
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self {
            count: samples.len() as u64,
            p50_ms: ms(rank(&samples, 50.0)),
            p95_ms: ms(rank(&samples, 95.0)),
            p99_ms: ms(rank(&samples, 99.0)),
            max_ms: ms(samples.last().copied().unwrap_or_default()),
        }
    }
}

/// The nearest-rank `pct` percentile of sorted `samples` (zero when empty).
pub fn rank(sorted: &[Duration], pct: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let n = sorted.len();
    // Nearest rank: the smallest value with at least pct % of the samples at or below it.
    let rank = ((pct / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// A duration in milliseconds, to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(samples);
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p95_ms, 95.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
    }

    #[test]
    fn no_samples_give_zeroes() {
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let p = Percentiles::of(vec![Duration::from_micros(1500)]);
        assert_eq!((p.p50_ms, p.p99_ms, p.max_ms), (1.5, 1.5, 1.5));
    }
}
