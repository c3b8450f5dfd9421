//! The standard claims of a user record (`oauth::claims`), with the
//! user's groups read from the store when the `groups` scope asks for them.

use serde_json::{Map, Value};
use store::UserRecord;

/// The claims for `scopes`: what userinfo answers and what ID tokens carry
/// (OpenID Connect Core §5.4).
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
    let source = oauth::claims::User {
        id: &user.id,
        user_name: &user.user_name,
        updated_at: user.updated_at,
        attributes: &user.attributes,
        email_verified: state.config.emails_verified,
    };
    Ok(oauth::claims::for_scope(&source, scopes, &groups))
}
