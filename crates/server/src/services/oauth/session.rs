//! Browser sessions as records (docs/security.md 16): found by the hash of
//! the cookie's value, with idle and absolute timeouts, and only while
//! their user is active. The cookie itself is `web::session`'s.

use store::{Session, SessionData, UserRecord};

use crate::config::seconds;
use crate::opaque::{hash_token, random_token};
use crate::secret::Secret;
use crate::services::Ctx;

/// A live session and its (active) user.
#[derive(Debug)]
pub struct Current {
    pub session: Session,
    pub user: UserRecord,
}

/// The session whose id hashes to `id_hash`, if it is live and its user
/// active; a session of a user deactivated or deleted since is ended.
/// Finding it moves its idle timeout.
pub async fn find(ctx: &Ctx, id_hash: &str) -> Result<Option<Current>, store::Error> {
    let session = match ctx.store.get_session(id_hash).await {
        Ok(session) => session,
        Err(store::Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let user = match ctx.store.get_user(&session.user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => {
            ctx.store.delete_session(id_hash).await?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let idle = ctx.clock.now() + seconds(ctx.config.session_idle_timeout);
    match ctx.store.touch_session(id_hash, idle).await {
        Ok(()) | Err(store::Error::NotFound) => {}
        Err(e) => return Err(e),
    }
    Ok(Some(Current { session, user }))
}

/// Starts a session for `user`, who just signed in with the RFC 8176
/// methods `amr`, ending `previous` (the id hash of the browser's old
/// session, if any): a fresh id at every sign-in and every step up defeats
/// session fixation. Returns the new session's id, for the cookie.
///
/// A step up (the same user again) keeps the session's `sid`: it is what
/// relying parties know the session by (their ID tokens carry it), so the
/// session's end is still announced to them under that name (Back-Channel
/// Logout 1.0 §2.4) and RP-initiated logout still ends the refresh tokens
/// issued before the step up. The `sid` is no credential; the cookie is.
pub async fn start(
    ctx: &Ctx,
    previous: Option<&str>,
    user: UserRecord,
    amr: Vec<String>,
) -> Result<(Secret<String>, Current), store::Error> {
    let mut sid = None;
    if let Some(old) = previous
        && let Some(ended) = end(ctx, old).await?
        && ended.user_id == user.id
    {
        sid = Some(ended.data.sid);
    }
    let token = random_token().map_err(|_| store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })?;
    let now = ctx.clock.now();
    let session = Session {
        id_hash: hash_token(token.expose()),
        user_id: user.id.clone(),
        created_at: now,
        auth_time: now,
        expires_at: now + seconds(ctx.config.session_max_age),
        idle_expires_at: now + seconds(ctx.config.session_idle_timeout),
        data: SessionData {
            sid: sid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            amr,
        },
    };
    ctx.store.put_session(&session).await?;
    Ok((token, Current { session, user }))
}

/// Ends the session whose id hashes to `id_hash`, returning it if it
/// existed. A store error is an error, never "there was no session"
/// (docs/security.md 20: fail closed).
pub async fn end(ctx: &Ctx, id_hash: &str) -> Result<Option<Session>, store::Error> {
    let session = match ctx.store.get_session(id_hash).await {
        Ok(session) => Some(session),
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    ctx.store.delete_session(id_hash).await?;
    Ok(session)
}
