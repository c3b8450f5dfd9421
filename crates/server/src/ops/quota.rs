//! The rate-limit quota this replica holds: requests it may admit
//! locally from batches it took from the shared limit in the store
//! (`routes::support::rate_limit` takes and spends it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Rate;

/// Requests admitted by this replica from quota it took from the store in a
/// batch. Limits with a burst of 200 or more are taken `burst / 100` at a
/// time (at most 100), so a busy `/token` pays one store call per batch, not
/// per request; smaller limits (login) are exact, one call per request.
/// Quota is taken from the shared limit before it is used, so replicas
/// together never admit more than the limit; an unused remainder only makes
/// them refuse a little early. Bounded: at most `MAX_KEYS` keys are held.
#[derive(Debug, Default)]
pub struct LocalQuota {
    held: Mutex<HashMap<String, (i64, Instant)>>,
    /// Per key, the turn to fetch from the store; present only while
    /// someone holds or waits for it.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalQuota {
    const MAX_KEYS: usize = 10_000;

    pub fn batch(rate: Rate) -> i64 {
        i64::from(rate.burst / 100).clamp(1, 100)
    }

    /// Takes one request from the quota held for `key`, if any is left.
    pub fn take(&self, key: &str) -> bool {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match held.get_mut(key) {
            Some((left, until)) if *left > 0 && Instant::now() < *until => {
                *left -= 1;
                true
            }
            Some(_) => {
                held.remove(key);
                false
            }
            None => false,
        }
    }

    /// The fetching turn of `key` (see `routes::support::rate_limit::check`).
    pub fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(gates.entry(key.to_owned()).or_default())
    }

    /// Gives a gate back; the last one out removes it, so the map holds
    /// only keys with requests in flight.
    pub fn release(&self, key: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Two references: the map's and ours.
        if Arc::strong_count(&gate) <= 2 {
            gates.remove(key);
        }
    }

    /// Adds `left` requests to what is held for `key`, valid for `valid_ms`
    /// (after which the shared limit has refilled them anyway). Added, not
    /// replaced: a remainder another fetch brought is still quota taken from
    /// the shared limit.
    pub fn put(&self, key: String, left: i64, valid_ms: i64) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.len() >= Self::MAX_KEYS {
            let now = Instant::now();
            held.retain(|_, (left, until)| *left > 0 && now < *until);
            if held.len() >= Self::MAX_KEYS {
                // Under a flood of keys: forget the quota rather than grow.
                held.clear();
            }
        }
        let valid = Duration::from_millis(u64::try_from(valid_ms).unwrap_or(0));
        let until = Instant::now() + valid;
        let entry = held.entry(key).or_insert((0, until));
        if entry.1 <= Instant::now() {
            entry.0 = 0;
        }
        *entry = (entry.0 + left, until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_limits_are_exact_and_large_ones_batched() {
        let rate = |burst| Rate {
            burst,
            period: Duration::from_secs(60),
        };
        assert_eq!(LocalQuota::batch(rate(30)), 1);
        assert_eq!(LocalQuota::batch(rate(199)), 1);
        assert_eq!(LocalQuota::batch(rate(6000)), 60);
        assert_eq!(LocalQuota::batch(rate(1_000_000)), 100);
    }

    #[test]
    fn quota_is_spent_expires_and_stays_bounded() {
        let quota = LocalQuota::default();
        assert!(!quota.take("k"));
        quota.put("k".into(), 2, 60_000);
        assert!(quota.take("k") && quota.take("k"));
        assert!(!quota.take("k"), "spent");
        quota.put("old".into(), 5, 0);
        assert!(!quota.take("old"), "expired");
        for n in 0..(LocalQuota::MAX_KEYS + 10) {
            quota.put(format!("ip:{n}"), 1, 60_000);
        }
        let held = quota.held.lock().unwrap().len();
        assert!(held <= LocalQuota::MAX_KEYS, "{held}");
    }
}
