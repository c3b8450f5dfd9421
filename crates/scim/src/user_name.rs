//! How userNames compare (docs/security.md 26): the PRECIS UsernameCaseMapped
//! profile of RFC 8265 §3.3 (width mapping, case mapping, NFC, and the
//! IdentifierClass of RFC 8264), applied to each space-separated userpart
//! (§3.1). Fullwidth "ａｄｍｉｎ", "ADMIN" or an extra space then name the
//! same account as "admin"; a name with characters the profile refuses
//! (symbols, controls, compatibility forms such as the Kelvin sign,
//! unassigned code points) is `invalidValue`.
//!
//! What it does not do: fold letters that only look alike (dotless "ı" is
//! a letter of its own; RFC 8264's security considerations leave
//! visually similar characters to applications).
//! The store keeps its own copy of the key function (`store::user_name_key`)
//! because it must also find names stored before this rule.

use precis_profiles::UsernameCaseMapped;
use precis_profiles::precis_core::profile::PrecisFastInvocation;

use crate::{Error, ScimType};

/// The comparison form of a userName, or why the profile refuses it.
pub fn key(user_name: &str) -> Result<String, Error> {
    let parts = user_name
        .split(' ')
        .filter(|part| !part.is_empty())
        .map(|part| {
            UsernameCaseMapped::enforce(part).map_err(|e| {
                Error::new(
                    ScimType::InvalidValue,
                    format!("userName {part:?} is not a valid username (RFC 8265): {e:?}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parts.is_empty() {
        return Err(Error::new(ScimType::InvalidValue, "userName is empty"));
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(key(input).ok().as_deref(), expected, "{input:?}");
    }

    #[test]
    fn look_alikes_share_a_key_and_refused_names_are_invalid_values() {
        check("admin", Some("admin"));
        check("Admin", Some("admin"));
        check("ａｄｍｉｎ", Some("admin"));
        check("ＡＤＭＩＮ", Some("admin"));
        // U+212A KELVIN SIGN has a compatibility form ("K"): refused
        // (the HasCompat category of RFC 8264), so it cannot pose as "kim".
        check("\u{212A}im", None);
        check(" admin", Some("admin"));
        check("Barbara  Jensen ", Some("barbara jensen"));
        check("bjensen@example.com", Some("bjensen@example.com"));
        // Composed and decomposed forms are one name (NFC).
        check("Jose\u{301}", Some("jos\u{e9}"));
        // A letter of its own, not an "i".
        check("adm\u{131}n", Some("adm\u{131}n"));
        // Symbols and controls are refused.
        check("admin\u{1F600}", None);
        check("ad\u{200B}min", None);
        check("   ", None);
        let error = key("a\u{7}b").unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
    }
}
