//! Multi-factor sign-in on the store's factors (`store::FactorStore`):
//! TOTP generators ([`totp`]), passkeys (`passkey`, the `passkeys`
//! feature), recovery codes ([`recovery`]), the check of
//! a second factor ([`challenge`]), enrolment ([`enrol`]), and what an
//! operator may do to a user's factors. The levels they reach are
//! `oauth::acr`'s; the policy is `services::oauth::authorize::required_level`.

pub mod challenge;
pub mod enrol;
#[cfg(feature = "passkeys")]
pub mod passkey;
pub mod recovery;
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

/// Removes one factor of the user, or all of them, ends the user's browser
/// sessions and revokes its refresh families: a factor someone else
/// enrolled stops letting them in at once, not when their session expires. How many factors went.
/// `NotFound` if the user, or the named factor, does not exist.
pub async fn reset(
    store: &dyn Store,
    now: i64,
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
    crate::services::users::credential_changed(store, now, user_id, None).await?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{FactorStore, Session, SessionData, SessionStore, TestClock, UserStore};

    use crate::services::fixtures;

    /// docs/security.md 25: removing a factor ends the user's sessions, and
    /// only that user's.
    #[tokio::test]
    async fn a_reset_ends_the_users_sessions_only() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(TestClock::new(0))).unwrap();
        let session = |hash: &str, user: &str| Session {
            id_hash: hash.into(),
            user_id: user.into(),
            created_at: 0,
            auth_time: 0,
            expires_at: 3_600,
            idle_expires_at: 3_600,
            data: SessionData {
                sid: format!("sid-{hash}"),
                amr: vec!["pwd".into()],
            },
        };
        for (id, name) in [("u-1", "alice"), ("u-2", "bob")] {
            store.create_user(&fixtures::user(id, name)).await.unwrap();
            store
                .put_session(&session(&format!("s-{id}"), id))
                .await
                .unwrap();
        }
        store
            .insert_factor(&fixtures::totp_factor("u-1", "f-1"))
            .await
            .unwrap();
        assert_eq!(
            super::reset(&store, 0, "u-1", Some("f-1")).await.unwrap(),
            1
        );
        assert!(matches!(
            store.get_session("s-u-1").await,
            Err(store::Error::NotFound)
        ));
        assert!(store.get_session("s-u-2").await.is_ok());
        assert!(store.list_factors("u-1").await.unwrap().is_empty());
        assert!(matches!(
            super::reset(&store, 0, "nobody", None).await,
            Err(store::Error::NotFound)
        ));
    }
}
