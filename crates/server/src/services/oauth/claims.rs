//! Standard claims (OpenID Connect Core §5.1, §5.4) from a user record,
//! by scope: `profile`, `email`, `phone`, `address`, and `groups` (the
//! names of the groups the user is a member of, directly or through nested
//! groups). The same records
//! SCIM manages, so provisioned attributes appear here unchanged.

use serde_json::{Map, Value, json};
use store::UserRecord;

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

/// The claims for `scopes` with the user's groups (direct and nested)
/// looked up when the `groups` scope asks for them: what userinfo answers
/// and what ID tokens carry (OpenID Connect Core §5.4).
pub async fn lookup(
    state: &crate::services::Ctx,
    user: &UserRecord,
    scopes: &[&str],
) -> store::Result<Map<String, Value>> {
    let groups = if scopes.contains(&"groups") {
        crate::services::scim::users::group_names(state, &user.id).await?
    } else {
        Vec::new()
    };
    Ok(for_scope(user, scopes, &groups))
}

pub fn for_scope(user: &UserRecord, scopes: &[&str], groups: &[String]) -> Map<String, Value> {
    let a = &user.attributes;
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
        // SCIM carries no verification state; nothing here proves the address.
        put("email_verified", Some(&json!(false)));
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
