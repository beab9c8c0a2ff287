//! Throttling (governor). Sign-ins: failed attempts are counted per client IP
//! and per username; once either runs out, that key is locked until governor
//! says another attempt is allowed, and even a right password is refused until
//! then. Successful sign-ins cost nothing.
//!
//! Keys are swept by `sweep()` (called from the app's maintenance task), so
//! a flood of usernames cannot grow memory without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginKey {
    Ip(IpAddr),
    Username(String),
}

pub struct LoginLimiter {
    failures: DefaultKeyedRateLimiter<LoginKey>,
    locked_until: DashMap<LoginKey, Instant>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// The `attempts`-th failure in a burst locks the key; one more attempt
    /// is allowed per `period` after that.
    pub fn new(attempts: NonZeroU32, period: Duration) -> Self {
        // governor refuses the cell after the burst: a burst of `attempts - 1`
        // makes the `attempts`-th failure the refused one, which locks.
        let burst = NonZeroU32::new(attempts.get() - 1).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            failures: RateLimiter::keyed(quota),
            locked_until: DashMap::new(),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` while any of the keys is locked.
    pub fn check(&self, keys: &[LoginKey]) -> Result<(), Duration> {
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|key| self.locked_until.get(key).map(|until| *until))
            .filter(|until| *until > now)
            .max();
        match wait {
            Some(until) => Err(until - now),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt; `Err(wait)` when it used up a key's allowance
    /// (the keys are locked from now on).
    pub fn record_failure(&self, keys: &[LoginKey]) -> Result<(), Duration> {
        let mut longest: Option<Duration> = None;
        for key in keys {
            if let Err(not_until) = self.failures.check_key(key) {
                let wait = not_until.wait_time_from(self.clock.now());
                self.locked_until.insert(key.clone(), Instant::now() + wait);
                longest = Some(longest.map_or(wait, |w| w.max(wait)));
            }
        }
        match longest {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Forgets keys whose allowance is full again and locks that expired.
    pub fn sweep(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let now = Instant::now();
        self.locked_until.retain(|_, until| *until > now);
    }

    pub fn tracked_keys(&self) -> usize {
        self.failures.len() + self.locked_until.len()
    }
}

/// At most a burst of actions per key, then one more every `period`: for
/// what any caller may ask for but that costs something each time (a
/// Google sign-in stores a row until it finishes; a new QR code restarts a
/// bot).
pub struct ActionLimiter<K: Clone + std::hash::Hash + Eq> {
    actions: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Clone + std::hash::Hash + Eq> ActionLimiter<K> {
    pub fn new(burst: NonZeroU32, period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            actions: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Counts an action; `Err(wait)` when the key has used up its allowance.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.actions
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    pub fn sweep(&self) {
        self.actions.retain_recent();
        self.actions.shrink_to_fit();
    }
}

/// Google sign-ins started per client IP: a burst of `per_minute`, then one
/// more every `60 / per_minute` s.
pub type SignInStartLimiter = ActionLimiter<IpAddr>;

impl SignInStartLimiter {
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::new(per_minute, Duration::from_secs(60) / per_minute.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_starts_are_limited_per_ip() {
        let limiter = SignInStartLimiter::per_minute(NonZeroU32::new(2).unwrap());
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(&one).is_ok());
        assert!(limiter.check(&one).is_ok());
        let wait = limiter.check(&one).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limiter.check(&other).is_ok());
    }

    #[test]
    fn a_key_locks_after_its_allowance_and_others_do_not() {
        let limiter = LoginLimiter::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60));
        let alice = [LoginKey::Username("alice".into())];
        for _ in 0..2 {
            assert!(limiter.check(&alice).is_ok());
            assert!(limiter.record_failure(&alice).is_ok());
        }
        // The third failure uses up the allowance: locked from now on.
        let wait = limiter.record_failure(&alice).unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(limiter.check(&alice).is_err());
        assert!(limiter.check(&[LoginKey::Username("bob".into())]).is_ok());
    }

    #[test]
    fn sweeping_forgets_keys_that_are_whole_again() {
        let limiter = LoginLimiter::new(NonZeroU32::new(3).unwrap(), Duration::from_millis(1));
        for i in 0..100 {
            let _ = limiter.record_failure(&[LoginKey::Username(format!("user{i}"))]);
        }
        assert!(limiter.tracked_keys() >= 100);
        std::thread::sleep(Duration::from_millis(20));
        limiter.sweep();
        assert_eq!(limiter.tracked_keys(), 0);
    }
}
