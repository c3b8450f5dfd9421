//! The user's consent to a client's scopes (OpenID Connect Core
//! §3.1.2.4): what was granted before, and recording a new grant, which
//! adds to the earlier one.

use oauth::Scope;
use store::Consent;

use crate::services::Ctx;

/// The scope `user_id` consented to for `client_id`, if any.
pub async fn granted(
    ctx: &Ctx,
    user_id: &str,
    client_id: &str,
) -> Result<Option<Scope>, store::Error> {
    match ctx.store.get_consent(user_id, client_id).await {
        // Each stored scope was valid when granted; one that no longer
        // parses counts as not granted, so the user is asked again.
        Ok(consent) => Ok(Some(
            Scope::parse(&consent.scopes.join(" ")).unwrap_or_default(),
        )),
        Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records that `user_id` consents to `scope` for `client_id`, on top of
/// what they consented to before.
pub async fn grant(
    ctx: &Ctx,
    user_id: &str,
    client_id: &str,
    scope: &Scope,
) -> Result<(), store::Error> {
    let mut scopes: Vec<String> = match ctx.store.get_consent(user_id, client_id).await {
        Ok(previous) => previous.scopes,
        Err(store::Error::NotFound) => Vec::new(),
        Err(e) => return Err(e),
    };
    scopes.extend(scope.iter().map(str::to_owned));
    scopes.sort();
    scopes.dedup();
    let consent = Consent {
        user_id: user_id.to_owned(),
        client_id: client_id.to_owned(),
        scopes,
        granted_at: ctx.clock.now(),
    };
    ctx.store.put_consent(&consent).await?;
    tracing::info!(category = "security", event = "consent_granted", user_id = %user_id, client_id = %client_id, outcome = "success", "consent granted");
    Ok(())
}

/// Logs that the user said no; nothing is stored.
pub fn denied(user_id: &str, client_id: &str) {
    tracing::info!(category = "security", event = "consent_denied", user_id = %user_id, client_id = %client_id, outcome = "failure", "consent denied");
}
