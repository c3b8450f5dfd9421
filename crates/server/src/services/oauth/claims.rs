//! The standard claims of a user record (`oauth::claims`), with the
//! user's groups read from the store when the `groups` scope asks for them,
//! shaped by the client's own mappings (`oauth::claim_mapping`).

use oauth::claim_mapping::ClaimMapping;
use serde_json::{Map, Value};
use store::{ClientRecord, UserRecord};

/// The claims for `scopes`, for `client`: what userinfo answers and what
/// ID tokens carry (OpenID Connect Core §5.4).
pub async fn lookup(
    state: &crate::services::Ctx,
    client: &ClientRecord,
    user: &UserRecord,
    scopes: &[&str],
) -> store::Result<Map<String, Value>> {
    let groups = if scopes.contains(&"groups") {
        crate::services::scim::users::group_names(state, &user.id).await?
    } else {
        Vec::new()
    };
    let source = oauth::claims::User {
        id: &user.id,
        user_name: &user.user_name,
        updated_at: user.updated_at,
        attributes: &user.attributes,
        email_verified: state.config.emails_verified,
    };
    let mut claims = oauth::claims::for_scope(&source, scopes, &groups);
    if !client.metadata.claim_mappings.is_empty() {
        // Checked when the client was registered; one that no longer
        // parses (a newer version wrote it) maps nothing.
        let mappings: Vec<ClaimMapping> = client
            .metadata
            .claim_mappings
            .iter()
            .filter_map(|spec| ClaimMapping::parse(spec).ok())
            .collect();
        oauth::claim_mapping::apply(&mappings, &mut claims, &user.attributes);
    }
    Ok(claims)
}
