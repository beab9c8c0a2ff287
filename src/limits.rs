//! Throttling (governor). Sign-ins: failed attempts are counted per client IP
//! and per username. A client address that runs out of attempts is locked
//! until governor allows another one, and even a right password is refused
//! until then. A username is never locked (anybody could then lock the real
//! admin out with a few wrong passwords): once its attempts run out, each
//! further failure makes every next attempt on it wait longer before the
//! password is checked, doubling up to `MAX_USERNAME_PAUSE`, so guessing
//! from many addresses slows down while the admin still signs in. Success
//! ends the pause; successful sign-ins cost nothing.
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
    /// Client addresses that ran out of attempts.
    locked_until: DashMap<LoginKey, Instant>,
    /// Usernames that ran out: failures since, and when the last was.
    paused: DashMap<LoginKey, (u32, Instant)>,
    /// How long a username's pause is remembered after its last failure.
    forget_after: Duration,
    clock: DefaultClock,
}

/// The longest a sign-in on a username waits after repeated failures.
pub const MAX_USERNAME_PAUSE: Duration = Duration::from_secs(16);

impl LoginLimiter {
    /// The `attempts`-th failure in a burst runs the key out; one more
    /// attempt is allowed per `period` after that.
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
            paused: DashMap::new(),
            forget_after: period.saturating_mul(attempts.get()),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` while a client address among the keys is locked;
    /// otherwise `Ok(pause)`: how long to wait before checking the password
    /// (zero unless the username ran out of attempts).
    pub fn check(&self, keys: &[LoginKey]) -> Result<Duration, Duration> {
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|key| self.locked_until.get(key).map(|until| *until))
            .filter(|until| *until > now)
            .max();
        if let Some(until) = wait {
            return Err(until - now);
        }
        let pause = keys
            .iter()
            .filter_map(|key| self.paused.get(key).map(|entry| *entry))
            .filter(|(_, last)| now.duration_since(*last) < self.forget_after)
            .map(|(excess, _)| username_pause(excess))
            .max();
        Ok(pause.unwrap_or(Duration::ZERO))
    }

    /// Counts a failed attempt; `Err(wait)` when it used up a client
    /// address's allowance (locked from now on).
    pub fn record_failure(&self, keys: &[LoginKey]) -> Result<(), Duration> {
        let mut longest: Option<Duration> = None;
        for key in keys {
            let Err(not_until) = self.failures.check_key(key) else {
                continue;
            };
            match key {
                LoginKey::Ip(_) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    self.locked_until.insert(key.clone(), Instant::now() + wait);
                    longest = Some(longest.map_or(wait, |w| w.max(wait)));
                }
                LoginKey::Username(_) => {
                    let mut entry = self
                        .paused
                        .entry(key.clone())
                        .or_insert((0, Instant::now()));
                    entry.0 = entry.0.saturating_add(1);
                    entry.1 = Instant::now();
                }
            }
        }
        match longest {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// A right password: the username's pause ends.
    pub fn record_success(&self, keys: &[LoginKey]) {
        for key in keys {
            self.paused.remove(key);
        }
    }

    /// Forgets keys whose allowance is full again, locks that expired and
    /// pauses not renewed for a while.
    pub fn sweep(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let now = Instant::now();
        self.locked_until.retain(|_, until| *until > now);
        self.paused
            .retain(|_, (_, last)| now.duration_since(*last) < self.forget_after);
    }

    pub fn tracked_keys(&self) -> usize {
        self.failures.len() + self.locked_until.len() + self.paused.len()
    }
}

/// 1 s after the first failure beyond the allowance, doubling, at most
/// `MAX_USERNAME_PAUSE`.
fn username_pause(excess: u32) -> Duration {
    let doublings = excess.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << doublings).min(MAX_USERNAME_PAUSE)
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
    fn an_address_locks_after_its_allowance_but_a_username_only_slows_down() {
        let limiter = LoginLimiter::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60));
        let username = || LoginKey::Username("admin".into());
        let attacker = [username(), LoginKey::Ip("192.0.2.66".parse().unwrap())];
        let admin = [username(), LoginKey::Ip("198.51.100.7".parse().unwrap())];
        for _ in 0..2 {
            assert_eq!(limiter.check(&attacker), Ok(Duration::ZERO));
            assert!(limiter.record_failure(&attacker).is_ok());
        }
        // The third failure uses up the allowance: the address is locked…
        let wait = limiter.record_failure(&attacker).unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(limiter.check(&attacker).is_err());
        // …the admin, from their own address, only waits, a little longer
        // with each further failure on the name, never beyond the cap.
        assert_eq!(limiter.check(&admin), Ok(Duration::from_secs(1)));
        let mut pauses = Vec::new();
        for n in 0..8 {
            let other = [
                username(),
                LoginKey::Ip(format!("203.0.113.{n}").parse().unwrap()),
            ];
            let _ = limiter.record_failure(&other);
            pauses.push(limiter.check(&admin).unwrap());
        }
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
        assert_eq!(pauses.last(), Some(&MAX_USERNAME_PAUSE));
        // A right password ends the pause; another name never had one.
        limiter.record_success(&admin);
        assert_eq!(limiter.check(&admin), Ok(Duration::ZERO));
        assert_eq!(
            limiter.check(&[LoginKey::Username("bob".into())]),
            Ok(Duration::ZERO)
        );
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
