//! Services injected into every aggregate (`Aggregate::Services = Services`).
//!
//! Everything non-deterministic that a rule needs (time, ids, randomness,
//! encryption) comes through here, so `handle` is a pure function of its inputs
//! and tests can pin every value an event carries. The test doubles
//! ([`FixedClock`], [`crate::ids::SequentialIds`], [`SeededRandom`]) are ordinary
//! public types so that other crates' tests can use them too.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rand::{RngCore, SeedableRng};

use crate::cipher::CipherError;
use crate::ids::NodeIdOutOfRange;

pub use crate::cipher::{AesGcmCipher, Cipher};
pub use crate::ids::{IdGenerator, SequentialIds, SnowflakeIds};

/// Source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// Source of random bytes (secrets, API keys, nonces, retry jitter).
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A random `u64` drawn from [`RandomSource::fill`].
    fn next_u64(&self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// Test double: a clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    /// A clock standing at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// A clock standing at an RFC 3339 instant. Panics on a malformed literal
    /// (it is meant for tests).
    pub fn at_rfc3339(instant: &str) -> Self {
        let now = DateTime::parse_from_rfc3339(instant)
            .expect("FixedClock::at_rfc3339 needs a valid RFC 3339 instant")
            .with_timezone(&Utc);
        Self::new(now)
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now;
    }

    /// Moves the clock by `by` (which may be negative).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// Test double: a deterministic random source (ChaCha seeded from a `u64`).
#[derive(Debug)]
pub struct SeededRandom {
    rng: Mutex<rand::rngs::StdRng>,
}

impl SeededRandom {
    /// A source that yields the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fill_bytes(buf);
    }
}

/// The services every aggregate receives. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Services {
    /// Time source for every timestamp an event carries.
    pub clock: Arc<dyn Clock>,
    /// Id source for ids generated inside `handle`.
    pub ids: Arc<dyn IdGenerator>,
    /// Randomness for secrets, keys and jitter.
    pub random: Arc<dyn RandomSource>,
    /// Encrypts endpoint secrets before they enter an event.
    pub cipher: Arc<dyn Cipher>,
}

/// Master key used by [`Services::deterministic`]; never use it outside tests.
pub const TEST_MASTER_KEY: [u8; 32] = [7u8; 32];

impl Services {
    /// Bundles the given services.
    pub fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        random: Arc<dyn RandomSource>,
        cipher: Arc<dyn Cipher>,
    ) -> Self {
        Self {
            clock,
            ids,
            random,
            cipher,
        }
    }

    /// Production services: wall clock, snowflake ids for `node_id`, the OS CSPRNG,
    /// and AES-256-GCM with `master_key` (exactly 32 bytes).
    pub fn production(master_key: &[u8], node_id: u16) -> Result<Self, ServicesError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
        let ids = Arc::new(SnowflakeIds::new(node_id, clock.clone())?);
        let cipher = Arc::new(AesGcmCipher::new(master_key, random.clone())?);
        Ok(Self::new(clock, ids, random, cipher))
    }

    /// Deterministic services for tests: a [`FixedClock`] at `now`, ids 1, 2, 3...,
    /// [`SeededRandom`] with seed 0 and AES-256-GCM under [`TEST_MASTER_KEY`].
    /// Replace a field (`Services { clock, ..Services::deterministic(t) }`) to keep
    /// a handle on it.
    pub fn deterministic(now: DateTime<Utc>) -> Self {
        let random: Arc<dyn RandomSource> = Arc::new(SeededRandom::new(0));
        Self {
            clock: Arc::new(FixedClock::new(now)),
            ids: Arc::new(SequentialIds::default()),
            cipher: Arc::new(AesGcmCipher::with_key(TEST_MASTER_KEY, random.clone())),
            random,
        }
    }

    /// Shorthand for `self.clock.now()`.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Production services could not be built from configuration.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The node id is out of range.
    #[error(transparent)]
    NodeId(#[from] NodeIdOutOfRange),
    /// The master key is unusable.
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_reproducible() {
        let (a, b) = (SeededRandom::new(9), SeededRandom::new(9));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u64(), SeededRandom::new(10).next_u64());
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::at_rfc3339("2025-01-01T00:00:00Z");
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(chrono::Duration::seconds(5));
        assert_eq!(clock.now(), t0 + chrono::Duration::seconds(5));
        clock.set(t0);
        assert_eq!(clock.now(), t0);
    }

    #[test]
    fn production_services_validate_their_configuration() {
        assert!(matches!(
            Services::production(&[0u8; 31], 1),
            Err(ServicesError::Cipher(CipherError::BadKeyLength { len: 31 }))
        ));
        assert!(matches!(
            Services::production(&[0u8; 32], 5000),
            Err(ServicesError::NodeId(_))
        ));
        assert!(Services::production(&[0u8; 32], 1).is_ok());
    }
}
