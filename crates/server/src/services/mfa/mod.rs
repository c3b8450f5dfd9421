//! Multi-factor sign-in (issue 14). So far: TOTP generators ([`totp`]) on
//! the store's factors (`store::FactorStore`), and what an operator may do
//! to a user's factors. Passkeys, recovery codes, the policy, step-up and
//! the account page build on these.

pub mod totp;

use serde_json::{Value, json};
use store::{Factor, Store};

/// What an operator sees of a factor: never its secret or its data.
pub fn describe(factor: &Factor) -> Value {
    json!({
        "id": factor.id,
        "kind": factor.kind,
        "name": factor.name,
        "created_at": factor.created_at,
        "last_used_at": factor.last_used_at,
    })
}

/// Removes one factor of the user, or all of them, and ends the user's
/// browser sessions: a factor someone else enrolled stops letting them in
/// at once, not when their session expires. How many factors went.
/// `NotFound` if the user, or the named factor, does not exist.
pub async fn reset(
    store: &dyn Store,
    user_id: &str,
    factor_id: Option<&str>,
) -> Result<u64, store::Error> {
    store.get_user(user_id).await?;
    let removed = match factor_id {
        Some(id) => {
            store.delete_factor(user_id, id).await?;
            1
        }
        None => store.delete_factors(user_id).await?,
    };
    store.delete_sessions_for_user(user_id).await?;
    tracing::warn!(
        category = "security",
        event = "mfa_removed",
        user_id = %user_id,
        factor_id = factor_id.unwrap_or("*"),
        removed,
        outcome = "success",
        "sign-in factors removed by an operator; the user's sessions ended"
    );
    Ok(removed)
}
