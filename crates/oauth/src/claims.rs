//! Standard claims (OpenID Connect Core §5.1, §5.4) from a user's SCIM
//! attributes (RFC 7643 §4.1), by scope: `profile`, `email`, `phone`,
//! `address`, and `groups` (the names of the groups the user is a member
//! of, directly or through nested groups). The same records SCIM manages,
//! so provisioned attributes appear here unchanged.

use serde_json::{Map, Value, json};

/// The scopes that map to claims, with `openid` itself (what discovery
/// advertises as `scopes_supported`).
pub const SCOPES_SUPPORTED: &[&str] = &["openid", "profile", "email", "phone", "address", "groups"];

/// Whether `scope` is about the user and the grant rather than an API:
/// the OpenID Connect scopes and `offline_access` (Core §11). They go with
/// any resource indicator (RFC 8707), since the ID token and refresh token
/// they govern are not for an API.
pub fn is_identity_scope(scope: &str) -> bool {
    scope == "offline_access" || SCOPES_SUPPORTED.contains(&scope)
}

pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "acr",
    "amr",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "locale",
    "zoneinfo",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "address",
    "groups",
];

/// The primary value of a SCIM multi-valued attribute, or its first.
fn primary<'a>(attributes: &'a Value, name: &str) -> Option<&'a Value> {
    let values = attributes.get(name)?.as_array()?;
    values
        .iter()
        .find(|v| v["primary"] == json!(true))
        .or_else(|| values.first())
}

/// What the claims are made from: the user's id (the `sub`), userName,
/// last modification, and SCIM attributes.
#[derive(Debug, Clone, Copy)]
pub struct User<'a> {
    pub id: &'a str,
    pub user_name: &'a str,
    pub updated_at: i64,
    pub attributes: &'a Value,
    /// Whether whoever provisions the address vouches for it (SCIM
    /// carries no verification state of its own).
    pub email_verified: bool,
}

/// The claims `scopes` release; `groups` is the user's group names, looked
/// up by the caller only when the `groups` scope asks for them.
pub fn for_scope(user: &User<'_>, scopes: &[&str], groups: &[String]) -> Map<String, Value> {
    let a = user.attributes;
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    let mut put = |name: &str, value: Option<&Value>| {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            claims.insert(name.into(), value.clone());
        }
    };
    if scopes.contains(&"profile") {
        put(
            "name",
            a.pointer("/name/formatted")
                .or_else(|| a.get("displayName")),
        );
        put("given_name", a.pointer("/name/givenName"));
        put("family_name", a.pointer("/name/familyName"));
        put("middle_name", a.pointer("/name/middleName"));
        put("nickname", a.get("nickName"));
        put("preferred_username", Some(&json!(user.user_name)));
        put("profile", a.get("profileUrl"));
        put("picture", primary(a, "photos").and_then(|p| p.get("value")));
        put("locale", a.get("locale"));
        put("zoneinfo", a.get("timezone"));
        put("updated_at", Some(&json!(user.updated_at)));
    }
    if scopes.contains(&"email")
        && let Some(email) = primary(a, "emails").and_then(|e| e.get("value"))
    {
        put("email", Some(email));
        // SCIM carries no verification state: the operator says whether
        // the provisioning identity provider verifies addresses.
        put("email_verified", Some(&json!(user.email_verified)));
    }
    if scopes.contains(&"phone") {
        put(
            "phone_number",
            primary(a, "phoneNumbers").and_then(|p| p.get("value")),
        );
    }
    if scopes.contains(&"address")
        && let Some(address) = primary(a, "addresses")
    {
        let mut claim = Map::new();
        for (oidc, scim) in [
            ("formatted", "formatted"),
            ("street_address", "streetAddress"),
            ("locality", "locality"),
            ("region", "region"),
            ("postal_code", "postalCode"),
            ("country", "country"),
        ] {
            if let Some(value) = address.get(scim) {
                claim.insert(oidc.into(), value.clone());
            }
        }
        put("address", Some(&Value::Object(claim)));
    }
    if scopes.contains(&"groups") {
        put("groups", Some(&json!(groups)));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_releases_its_own_claims_from_scim_attributes() {
        let attributes = json!({
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"},
            "emails": [
                {"value": "bj@work.example", "type": "work"},
                {"value": "babs@home.example", "primary": true}
            ],
            "phoneNumbers": [{"value": "+1 555 0100"}],
            "addresses": [{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "country": "USA"}],
            "timezone": "America/Los_Angeles",
        });
        let user = User {
            id: "2819c223",
            user_name: "bjensen",
            updated_at: 1_700_000_000,
            attributes: &attributes,
            email_verified: false,
        };
        let only_openid = for_scope(&user, &["openid"], &[]);
        assert_eq!(Value::Object(only_openid), json!({"sub": "2819c223"}));
        let all = for_scope(
            &user,
            &["openid", "profile", "email", "phone", "address", "groups"],
            &["staff".to_owned()],
        );
        assert_eq!(all["name"], "Ms. Barbara J Jensen");
        assert_eq!(all["preferred_username"], "bjensen");
        assert_eq!(all["zoneinfo"], "America/Los_Angeles");
        // The primary email, never claimed verified: SCIM cannot say so.
        assert_eq!(all["email"], "babs@home.example");
        assert_eq!(all["email_verified"], false);
        assert_eq!(all["phone_number"], "+1 555 0100");
        assert_eq!(
            all["address"],
            json!({"street_address": "100 Universal City Plaza", "locality": "Hollywood", "country": "USA"})
        );
        assert_eq!(all["groups"], json!(["staff"]));
        assert!(all.keys().all(|k| CLAIMS_SUPPORTED.contains(&k.as_str())));
        let vouched = User {
            email_verified: true,
            ..user
        };
        assert_eq!(for_scope(&vouched, &["email"], &[])["email_verified"], true);
    }
}
