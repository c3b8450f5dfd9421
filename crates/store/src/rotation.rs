//! The decision of refresh-token rotation (RFC 9700 §4.14.2), shared by
//! every backend so they cannot disagree: the SQLite transaction calls
//! [`decide`], and the Redis script (`store-redis/src/lua/family_rotate.lua`)
//! mirrors it line by line. The conformance suite checks both.
//!
//! It decides only; storing the outcome atomically is the backend's.

/// What presenting a token of a live family does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It is the family's current token: the new one replaces it.
    Rotate,
    /// It is the token replaced last, less than the grace window ago: a
    /// concurrent refresh of the same token, refused without harm.
    WithinGrace,
    /// Any other earlier token of the family: a replay, which revokes it.
    Reuse,
}

/// The decision for `presented`, given the family's current and previous
/// token hashes, when it last rotated, the time now and the grace window
/// (seconds). The family is known to be live (not revoked or expired).
pub fn decide(
    presented: &str,
    current: &str,
    previous: Option<&str>,
    rotated_at: i64,
    now: i64,
    grace_seconds: i64,
) -> Decision {
    if presented == current {
        Decision::Rotate
    } else if previous == Some(presented) && now - rotated_at < grace_seconds {
        Decision::WithinGrace
    } else {
        Decision::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(presented: &str, previous: Option<&str>, since_rotation: i64, expected: Decision) {
        assert_eq!(
            decide(presented, "c", previous, 1_000, 1_000 + since_rotation, 10),
            expected,
            "{presented} {previous:?} {since_rotation}"
        );
    }

    #[test]
    fn current_rotates_previous_has_a_grace_window_anything_else_is_reuse() {
        check("c", Some("p"), 0, Decision::Rotate);
        check("c", None, 1_000_000, Decision::Rotate);
        check("p", Some("p"), 0, Decision::WithinGrace);
        check("p", Some("p"), 9, Decision::WithinGrace);
        // The window is half-open: at exactly `grace` seconds it is over.
        check("p", Some("p"), 10, Decision::Reuse);
        check("old", Some("p"), 0, Decision::Reuse);
        check("p", None, 0, Decision::Reuse);
    }
}
