//! Authentication levels: the `acr` values this server asserts (OpenID
//! Connect Core §2) and understands in `acr_values` (§3.1.2.1), and the
//! level a set of RFC 8176 `amr` methods reaches.
//!
//! Three levels, ordered:
//!
//! - [`Level::Password`] `urn:auth-service:acr:pwd`: one factor;
//! - [`Level::Mfa`] `urn:auth-service:acr:mfa`: two factors (a password and
//!   a one-time code, or a passkey that verified its user);
//! - [`Level::PhishingResistant`] `phr`, the value of OpenID's "EAP ACR
//!   Values 1.0" §2.1: an authentication bound to this server's origin,
//!   which only a passkey is (a TOTP code can be typed into a phishing site).
//!
//! A request's `acr_values` is a list of acceptable levels "in order of
//! preference" (§3.1.2.1); any of them will do, so the least named level is
//! what the session must reach. Values this server does not know are
//! ignored, as the claim is voluntary.

use std::fmt;

/// An authentication level, weakest first (the derived order is the
/// strength order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Password,
    Mfa,
    PhishingResistant,
}

impl Level {
    /// Every level, weakest first: `acr_values_supported`.
    pub const ALL: [Level; 3] = [Level::Password, Level::Mfa, Level::PhishingResistant];
    /// Every `acr` value, weakest first.
    pub const VALUES: [&'static str; 3] = [
        Level::Password.as_str(),
        Level::Mfa.as_str(),
        Level::PhishingResistant.as_str(),
    ];

    /// The `acr` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Password => "urn:auth-service:acr:pwd",
            Level::Mfa => "urn:auth-service:acr:mfa",
            Level::PhishingResistant => "phr",
        }
    }

    /// The level an `acr` value names, if this server knows it.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == value)
    }

    /// The level a space-separated `acr_values` asks for: the least known
    /// level it names (any listed value is acceptable), `None` when it
    /// names none this server knows.
    pub fn requested(acr_values: &str) -> Option<Self> {
        acr_values.split(' ').filter_map(Self::parse).min()
    }

    /// The level the RFC 8176 methods of an authentication reach. `mfa`
    /// is what a second factor adds; a key (`hwk`/`swk`) that verified its
    /// user (`user`, or `pin`) is a passkey, phishing-resistant by its
    /// binding to the origin.
    pub fn of(amr: &[String]) -> Self {
        let has = |m: &str| amr.iter().any(|a| a == m);
        let key = has("hwk") || has("swk");
        let verified = has("user") || has("pin");
        if key && verified {
            Level::PhishingResistant
        } else if has("mfa") {
            Level::Mfa
        } else {
            Level::Password
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The methods of an authentication that added `added` to `earlier` (a
/// session stepped up by a second factor): both, once each, with `mfa`
/// when they hold two different kinds of factor (RFC 8176 §2: "multiple-
/// factor authentication").
pub fn combine(earlier: &[String], added: &[&str]) -> Vec<String> {
    let mut amr: Vec<String> = earlier.iter().filter(|m| *m != "mfa").cloned().collect();
    for method in added {
        if *method != "mfa" && !amr.iter().any(|m| m == method) {
            amr.push((*method).to_owned());
        }
    }
    let knows = ["pwd"].iter().any(|m| amr.iter().any(|a| a == m));
    let has = ["otp", "hwk", "swk"]
        .iter()
        .any(|m| amr.iter().any(|a| a == m));
    let verified_key = Level::of(&amr) == Level::PhishingResistant;
    if (knows && has) || verified_key {
        amr.push("mfa".to_owned());
    }
    amr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(methods: &[&str]) -> Vec<String> {
        methods.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(Level::Password < Level::Mfa && Level::Mfa < Level::PhishingResistant);
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("1"), None);
    }

    #[test]
    fn acr_values_ask_for_the_least_level_they_name() {
        assert_eq!(
            Level::requested("phr urn:auth-service:acr:mfa"),
            Some(Level::Mfa)
        );
        assert_eq!(Level::requested("phr"), Some(Level::PhishingResistant));
        assert_eq!(Level::requested("urn:other:gold 2"), None);
        assert_eq!(Level::requested(""), None);
    }

    #[test]
    fn methods_reach_levels() {
        assert_eq!(Level::of(&amr(&["pwd"])), Level::Password);
        assert_eq!(Level::of(&amr(&["pwd", "otp", "mfa"])), Level::Mfa);
        assert_eq!(Level::of(&amr(&["otp"])), Level::Password);
        assert_eq!(
            Level::of(&amr(&["hwk", "user", "mfa"])),
            Level::PhishingResistant
        );
        // A key that did not verify its user is one factor.
        assert_eq!(Level::of(&amr(&["swk"])), Level::Password);
        assert_eq!(Level::of(&[]), Level::Password);
    }

    #[test]
    fn combined_methods_say_mfa_only_for_two_kinds() {
        assert_eq!(
            combine(&amr(&["pwd"]), &["otp"]),
            amr(&["pwd", "otp", "mfa"])
        );
        assert_eq!(
            combine(&amr(&["pwd", "otp", "mfa"]), &["otp"]),
            amr(&["pwd", "otp", "mfa"])
        );
        assert_eq!(combine(&amr(&["pwd"]), &["pwd"]), amr(&["pwd"]));
        assert_eq!(combine(&[], &["hwk", "user"]), amr(&["hwk", "user", "mfa"]));
        assert_eq!(combine(&[], &["swk"]), amr(&["swk"]));
    }
}
