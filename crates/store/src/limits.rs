//! The arithmetic of rate limits and login back-off, shared by every
//! backend so they cannot disagree (the Redis scripts mirror it line by
//! line; the conformance suite checks both).
//!
//! - Rate limits use GCRA, the generic cell rate algorithm: one stored
//!   number per key, the "theoretical arrival time" (TAT) of the next
//!   request. A request is admitted if it is not earlier than
//!   `TAT - burst × interval`; admitting it moves the TAT one interval on.
//! - Back-off counts attempts per key: from the `threshold`-th on, each one
//!   locks the key for `base_delay × 2^(n − threshold)`, at most
//!   `max_delay`; a key quiet for `quiet_period` is forgotten.

/// The answer of [`crate::CounterStore::rate_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// When refused: how long until a request would be admitted.
    pub retry_after_ms: i64,
}

/// GCRA: the decision for `cost` requests at `now_ms` (all or none), and
/// the TAT to store if they are admitted. `tat` is the stored TAT, if any.
pub fn gcra(
    tat: Option<i64>,
    now_ms: i64,
    interval_ms: i64,
    burst: i64,
    cost: i64,
) -> (RateDecision, i64) {
    let interval = interval_ms.max(1);
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat.saturating_add(interval.saturating_mul(cost.max(1)));
    let allow_at = new_tat.saturating_sub(interval.saturating_mul(burst.max(1)));
    if now_ms < allow_at {
        (
            RateDecision {
                allowed: false,
                retry_after_ms: allow_at - now_ms,
            },
            tat,
        )
    } else {
        (
            RateDecision {
                allowed: true,
                retry_after_ms: 0,
            },
            new_tat,
        )
    }
}

/// How failed attempts slow a key down. Durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The attempt that first locks the key.
    pub threshold: i64,
    pub base_delay: i64,
    pub max_delay: i64,
    /// A key with no attempt for this long starts again from zero.
    pub quiet_period: i64,
}

impl BackoffPolicy {
    /// The lock that the `failures`-th attempt sets (0: none).
    pub fn delay(&self, failures: i64) -> i64 {
        if failures < self.threshold.max(1) {
            return 0;
        }
        let doublings = u32::try_from((failures - self.threshold).clamp(0, 30)).unwrap_or(30);
        self.base_delay
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay)
    }
}

/// The remembered attempts of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    pub failures: i64,
    /// Unix seconds; the key is locked while `now < locked_until`.
    pub locked_until: i64,
}

/// The answer of [`crate::CounterStore::register_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead; this is the `failures`-th attempt counted.
    Allowed { failures: i64 },
    /// Refused without counting, until then.
    Locked { until: i64 },
}

/// The decision for one attempt, and the state to store (with its expiry)
/// when it is counted.
pub fn next_attempt(
    state: AttemptState,
    now: i64,
    policy: &BackoffPolicy,
) -> (Attempt, Option<(AttemptState, i64)>) {
    if now < state.locked_until {
        return (
            Attempt::Locked {
                until: state.locked_until,
            },
            None,
        );
    }
    let failures = state.failures + 1;
    let delay = policy.delay(failures);
    let next = AttemptState {
        failures,
        locked_until: if delay > 0 { now + delay } else { 0 },
    };
    let expires_at = now + delay + policy.quiet_period.max(1);
    (Attempt::Allowed { failures }, Some((next, expires_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_admits_a_burst_then_one_per_interval() {
        let (mut tat, mut admitted) = (None, 0);
        for _ in 0..10 {
            let (decision, next) = gcra(tat, 0, 1_000, 3, 1);
            if decision.allowed {
                admitted += 1;
                tat = Some(next);
            } else {
                assert_eq!(decision.retry_after_ms, 1_000);
            }
        }
        assert_eq!(admitted, 3, "the burst");
        assert!(!gcra(tat, 999, 1_000, 3, 1).0.allowed);
        let (decision, next) = gcra(tat, 1_000, 1_000, 3, 1);
        assert!(decision.allowed, "one more per interval");
        assert!(!gcra(Some(next), 1_000, 1_000, 3, 1).0.allowed);
        // After a long quiet period the whole burst is back.
        assert!(gcra(Some(next), 60_000, 1_000, 3, 1).0.allowed);
        // A batch is all or nothing.
        let (decision, tat) = gcra(None, 0, 1_000, 10, 4);
        assert!(decision.allowed);
        let (decision, tat) = gcra(Some(tat), 0, 1_000, 10, 4);
        assert!(decision.allowed);
        assert!(!gcra(Some(tat), 0, 1_000, 10, 4).0.allowed);
        assert!(gcra(Some(tat), 0, 1_000, 10, 2).0.allowed);
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let policy = BackoffPolicy {
            threshold: 5,
            base_delay: 60,
            max_delay: 900,
            quiet_period: 3600,
        };
        let delays: Vec<i64> = (1..=11).map(|n| policy.delay(n)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]);

        let mut state = AttemptState::default();
        for n in 1..=5 {
            let (attempt, stored) = next_attempt(state, 1000, &policy);
            assert_eq!(attempt, Attempt::Allowed { failures: n });
            state = stored.unwrap().0;
        }
        assert_eq!(state.locked_until, 1060);
        assert_eq!(
            next_attempt(state, 1059, &policy),
            (Attempt::Locked { until: 1060 }, None)
        );
        let (attempt, stored) = next_attempt(state, 1060, &policy);
        assert_eq!(attempt, Attempt::Allowed { failures: 6 });
        assert_eq!(
            stored.unwrap(),
            (
                AttemptState {
                    failures: 6,
                    locked_until: 1180
                },
                1180 + 3600
            )
        );
    }
}
