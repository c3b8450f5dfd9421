//! Per-account login back-off (docs/security.md 14): every password check is
//! counted before it runs, so concurrent guesses on every replica share one
//! budget; from `AUTH_LOCKOUT_THRESHOLD` failures on, the account waits a
//! doubling delay (capped), and a quiet period or a success forgets it.
//!
//! The key is the userName (as it is compared: [`store::user_name_key`]),
//! whether or not such a user exists, so a lock on a name reveals nothing
//! about the account. It is hashed, so a key made of input has a bounded
//! size whatever the input (docs/security.md 23). A browser with a device cookie
//! counts under its own key instead ([`crate::web::device`]).

use serde_json::{Value, json};
use store::{AttemptState, Store};

/// The account a userName names, for back-off purposes: a fixed-size hash
/// of its comparison form.
pub fn account(user_name: &str) -> String {
    crate::opaque::hash_token(&store::user_name_key(user_name))
}

/// The back-off key of a userName.
pub fn key(user_name: &str) -> String {
    format!("login:{}", account(user_name))
}

/// What `user get` shows about an account's failed logins.
pub async fn describe(store: &dyn Store, user_name: &str, now: i64) -> store::Result<Value> {
    let AttemptState {
        failures,
        locked_until,
    } = store.attempt_state(&key(user_name)).await?;
    let locked = now < locked_until;
    Ok(json!({
        "failed_logins": failures,
        "locked": locked,
        "locked_until": locked.then(|| super::rfc3339(locked_until)),
    }))
}

/// Lifts a user's login lock now (an administrator's decision).
/// `NotFound` if there is no such user.
pub async fn unlock(store: &dyn Store, user_id: &str) -> store::Result<()> {
    let user = store.get_user(user_id).await?;
    store.clear_attempts(&key(&user.user_name)).await?;
    tracing::info!(category = "security", event = "account_unlocked", user_id = %user_id, outcome = "success", "login lock lifted by an administrator");
    Ok(())
}
