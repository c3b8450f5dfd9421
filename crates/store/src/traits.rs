//! The store contracts: one trait per aggregate. Every method documents what
//! every backend promises; the conformance suite checks those promises.
//!
//! Timestamps given to the store are Unix seconds of the store's clock.
//! Every record with an expiry is absent once `expires_at <= now`.

use async_trait::async_trait;

use crate::{
    ApiRecord, Attempt, AttemptState, AuditEntry, AuditEvent, AuthorizationCode, BackoffPolicy,
    Challenge, ClientRecord, CodeTake, Consent, DeviceAuthorization, DeviceDecision, DevicePoll,
    Factor, GroupRecord, LogoutNotice, Page, Paged, RateDecision, RefreshFamily, Result, Rotation,
    Session, SessionClient, SigningKey, UserRecord,
};

/// Registered OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client. `Conflict(Exists)` if the client id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_client(&self, client_id: &str) -> Result<ClientRecord>;
    /// Every client, ordered by client id.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>>;
    /// Replaces a client's record. `NotFound` if absent.
    async fn update_client(&self, client: &ClientRecord) -> Result<()>;
    /// `NotFound` if absent.
    async fn delete_client(&self, client_id: &str) -> Result<()>;
}

/// Registered APIs (RFC 8707 resources), keyed by their identifier.
#[async_trait]
pub trait ApiStore: Send + Sync {
    /// Stores a new API. `Conflict(Exists)` if the identifier is taken.
    async fn create_api(&self, api: &ApiRecord) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_api(&self, identifier: &str) -> Result<ApiRecord>;
    /// Every API, ordered by identifier.
    async fn list_apis(&self) -> Result<Vec<ApiRecord>>;
    /// `NotFound` if absent.
    async fn delete_api(&self, identifier: &str) -> Result<()>;
}

/// SCIM users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user with the version it carries.
    /// `Conflict(Unique("userName"))` if another user has the same
    /// [`crate::user_name_key`]; `Conflict(Exists)` if the id is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_user(&self, id: &str) -> Result<UserRecord>;
    /// Looks a user up by userName ([`crate::user_name_key`]). `NotFound`
    /// if absent.
    async fn get_user_by_name(&self, user_name: &str) -> Result<UserRecord>;
    /// Users whose externalId equals `external_id` exactly, ordered by id.
    async fn find_users_by_external_id(&self, external_id: &str) -> Result<Vec<UserRecord>>;
    /// Users with an `emails` value equal to `email` ignoring case, ordered
    /// by id ([`crate::email_keys`]).
    async fn find_users_by_email(&self, email: &str) -> Result<Vec<UserRecord>>;
    /// A stable, id-ordered page of users and the total count.
    async fn list_users(&self, page: Page) -> Result<Paged<UserRecord>>;
    /// Compare-and-swap: writes `user` only if the stored version still equals
    /// `user.version`, and returns the record as stored, with the version
    /// incremented. `Conflict(Version)` if it changed, `Conflict(Unique)` if the
    /// new userName belongs to another user, `NotFound` if absent. The change
    /// of userName and its index is atomic.
    async fn update_user(&self, user: &UserRecord) -> Result<UserRecord>;
    /// Removes the user and its indexes atomically. `NotFound` if absent.
    /// Group memberships are the caller's to remove
    /// ([`GroupStore::remove_member_everywhere`]).
    async fn delete_user(&self, id: &str) -> Result<()>;
}

/// SCIM groups.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// `Conflict(Exists)` if the id is taken.
    async fn create_group(&self, group: &GroupRecord) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_group(&self, id: &str) -> Result<GroupRecord>;
    /// A stable, id-ordered page of groups and the total count.
    async fn list_groups(&self, page: Page) -> Result<Paged<GroupRecord>>;
    /// Compare-and-swap as [`UserStore::update_user`]; the member index moves
    /// with the record.
    async fn update_group(&self, group: &GroupRecord) -> Result<GroupRecord>;
    /// `NotFound` if absent. The group's own memberships in other groups are
    /// the caller's to remove.
    async fn delete_group(&self, id: &str) -> Result<()>;
    /// The groups that list `member_id` as a direct member, ordered by id.
    async fn groups_with_member(&self, member_id: &str) -> Result<Vec<GroupRecord>>;
    /// [`GroupStore::groups_with_member`] for many members in one call:
    /// (member id, group) pairs, ordered by member id, then group id.
    async fn groups_with_members(
        &self,
        member_ids: &[String],
    ) -> Result<Vec<(String, GroupRecord)>>;
    /// Removes `member_id` from every group that lists it, incrementing each
    /// changed group's version. Returns how many groups changed. Safe against
    /// concurrent group updates (no lost update).
    async fn remove_member_everywhere(&self, member_id: &str) -> Result<u64>;
}

/// Authorization codes (RFC 6749 §4.1.2).
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code until `code.expires_at`. `Conflict(Exists)` if a code
    /// with the same hash exists.
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<()>;
    /// Atomically marks the code used. Exactly one caller ever gets `Fresh`;
    /// every later (or concurrent) caller gets `AlreadyUsed` until the code
    /// expires. `NotFound` if unknown or expired.
    async fn take_code(&self, code_hash: &str) -> Result<CodeTake>;
}

/// Refresh-token families with rotation and reuse detection.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Starts a family whose first token hashes to `token_hash`.
    /// `Conflict(Exists)` if the family id or token hash is taken.
    async fn create_family(&self, family: &RefreshFamily, token_hash: &str) -> Result<()>;
    /// The atomic compare-and-swap of rotation. If `presented_hash` is the
    /// family's current token, `new_hash` becomes current, the idle expiry
    /// moves to `idle_expires_at` (never past the absolute expiry) and the
    /// result is `Rotated`. If it is the token replaced last and that happened
    /// less than `grace_seconds` ago, nothing changes (`WithinGrace`). Any other
    /// earlier token of the family revokes the family (`ReuseDetected`).
    /// Of N concurrent rotations of one token exactly one is `Rotated`.
    /// `NotFound` if the token is unknown, or its family expired or revoked.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        idle_expires_at: i64,
        grace_seconds: i64,
    ) -> Result<Rotation>;
    /// The family of a token that is its family's current token, if the
    /// family is live. `NotFound` otherwise (rotated, revoked, expired, unknown).
    async fn get_current_family(&self, token_hash: &str) -> Result<RefreshFamily>;
    /// Marks the family revoked; its tokens are absent from then on.
    /// `NotFound` if absent.
    async fn revoke_family(&self, family_id: &str) -> Result<()>;
    /// Revokes every live family of a user, or only those that came from
    /// `session_id` when given; returns how many.
    async fn revoke_families_for_user(
        &self,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<u64>;
}

/// Browser sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates or replaces the session.
    async fn put_session(&self, session: &Session) -> Result<()>;
    /// `NotFound` if absent, or past either its absolute or idle expiry.
    async fn get_session(&self, id_hash: &str) -> Result<Session>;
    /// Moves the idle expiry (never past the absolute one). `NotFound` if absent.
    async fn touch_session(&self, id_hash: &str, idle_expires_at: i64) -> Result<()>;
    /// Idempotent: deleting an absent session succeeds.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Ends every session of a user; returns how many.
    async fn delete_sessions_for_user(&self, user_id: &str) -> Result<u64>;
}

/// Remembered consent per user and client.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Creates or replaces the consent of `consent.user_id` to `consent.client_id`.
    async fn put_consent(&self, consent: &Consent) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Consent>;
    /// Every consent of a user, ordered by client id.
    async fn list_consents(&self, user_id: &str) -> Result<Vec<Consent>>;
    /// Idempotent.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<()>;
}

/// Revoked access-token ids, kept until the token would have expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records `jti` as revoked until `expires_at`. Idempotent.
    async fn revoke_token_id(&self, jti: &str, expires_at: i64) -> Result<()>;
    /// True while a revocation of `jti` is recorded and unexpired.
    async fn is_token_id_revoked(&self, jti: &str) -> Result<bool>;
}

/// Signing keys, private parts sealed by the caller.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `Conflict(Exists)` if the kid is taken.
    async fn insert_key(&self, key: &SigningKey) -> Result<()>;
    /// `NotFound` if absent.
    async fn get_key(&self, kid: &str) -> Result<SigningKey>;
    /// Every key, ordered by creation time, then kid.
    async fn list_keys(&self) -> Result<Vec<SigningKey>>;
    /// Compare-and-swap on `key.version`, as [`UserStore::update_user`].
    async fn update_key(&self, key: &SigningKey) -> Result<SigningKey>;
    /// `NotFound` if absent.
    async fn delete_key(&self, kid: &str) -> Result<()>;
}

/// Counters and leases with expiry, shared by every replica (rate limits,
/// lockout, "one rotation per interval").
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Atomically adds `by` to the counter and returns the new value. A counter
    /// that is absent or expired starts from zero and expires `ttl_seconds`
    /// from now; incrementing does not move an existing expiry.
    async fn increment(&self, key: &str, by: i64, ttl_seconds: i64) -> Result<i64>;
    /// The counter's value, 0 if absent or expired.
    async fn get_counter(&self, key: &str) -> Result<i64>;
    /// Removes the counter. Idempotent.
    async fn reset_counter(&self, key: &str) -> Result<()>;
    /// Takes or renews a named lease for `ttl_seconds`: true if no live lease
    /// exists or `holder` already holds it; false if someone else does.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl_seconds: i64) -> Result<bool>;
    /// Admits or refuses `cost` requests (all or none) under `key` by GCRA
    /// ([`crate::limits::gcra`]): `burst` back to back, then one per
    /// `interval_ms`. Atomic: N replicas sharing the store enforce one limit.
    /// The key is kept only while it still limits anything.
    async fn rate_limit(
        &self,
        key: &str,
        interval_ms: i64,
        burst: i64,
        cost: i64,
    ) -> Result<RateDecision>;
    /// Counts one attempt under `key` unless the key is locked
    /// ([`crate::limits::next_attempt`]). Atomic: of N concurrent attempts
    /// on an unlocked key with `threshold - 1` failures, exactly one is
    /// allowed.
    async fn register_attempt(&self, key: &str, policy: &BackoffPolicy) -> Result<Attempt>;
    /// The counted attempts and lock of `key`; zero when none or forgotten.
    async fn attempt_state(&self, key: &str) -> Result<AttemptState>;
    /// Forgets the attempts of `key`. Idempotent.
    async fn clear_attempts(&self, key: &str) -> Result<()>;
}

/// Users' sign-in factors ([`Factor`]). Every call names the user, so a
/// factor id from one user never reaches another's factor.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// `Conflict(Exists)` if the user already has a factor with this id.
    async fn insert_factor(&self, factor: &Factor) -> Result<()>;
    /// The user's factors, ordered by creation time, then id.
    async fn list_factors(&self, user_id: &str) -> Result<Vec<Factor>>;
    /// `NotFound` if the user has no such factor.
    async fn get_factor(&self, user_id: &str, factor_id: &str) -> Result<Factor>;
    /// Renames a factor. `NotFound` if the user has no such factor.
    async fn rename_factor(&self, user_id: &str, factor_id: &str, name: &str) -> Result<()>;
    /// `NotFound` if the user has no such factor.
    async fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<()>;
    /// Deletes every factor of the user; how many there were.
    async fn delete_factors(&self, user_id: &str) -> Result<u64>;
    /// Atomically accepts a use of the factor at `counter` (a TOTP time
    /// step, a passkey's signature counter) if it is greater than the
    /// stored counter, which then becomes `counter`, with `last_used_at`
    /// set to `now`. `Ok(false)`, changing nothing, if it is not: a TOTP
    /// code used again, a cloned authenticator. Of concurrent calls with
    /// one counter, exactly one gets `true`. `NotFound` if absent.
    async fn advance_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        counter: u64,
        now: i64,
    ) -> Result<bool>;
    /// Records a use of a factor that keeps no counter (a passkey whose
    /// authenticator sends 0, as synced passkeys do): `last_used_at`
    /// becomes `now`, the counter stays. `NotFound` if absent.
    async fn touch_factor(&self, user_id: &str, factor_id: &str, now: i64) -> Result<()>;
    /// Stores a WebAuthn ceremony until its `expires_at`.
    /// `Conflict(Exists)` if a live challenge has the id.
    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()>;
    /// Removes and returns the challenge: once. `NotFound` if it is absent,
    /// expired or already taken; of concurrent takes, exactly one gets it.
    async fn take_challenge(&self, id: &str) -> Result<Challenge>;
}

/// Device authorizations (RFC 8628): written by the device authorization
/// endpoint, looked up and decided by the user's browser with the user
/// code, polled by the device with the device code.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new, undecided authorization until its `expires_at`.
    /// `Conflict(Exists)` if a live undecided authorization has the same
    /// user code hash (or one has the same device code hash): the caller
    /// draws another user code.
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<()>;
    /// The undecided authorization whose user code hashes to
    /// `user_code_hash`. `NotFound` if unknown, expired or decided.
    async fn get_device_authorization(&self, user_code_hash: &str) -> Result<DeviceAuthorization>;
    /// Records the user's decision; the user code is spent by it. `NotFound`
    /// if unknown, expired or already decided: of concurrent decisions,
    /// exactly one succeeds.
    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
    ) -> Result<()>;
    /// One poll by the device, now. Sooner than the interval after the
    /// previous poll, the interval grows by `slow_down_step` seconds for
    /// this and every later poll (`SlowDown`). Otherwise the decision, once
    /// (`Decided`, then `AlreadyUsed`), or `Pending`. Every poll counts as
    /// the previous one for the next. `NotFound` if unknown or expired.
    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        slow_down_step: i64,
    ) -> Result<DevicePoll>;
}

/// OpenID Connect Back-Channel Logout 1.0: which clients received tokens
/// in which browser session, and the durable queue of logout tokens to
/// deliver when a session ends. Every replica works the one queue: a
/// notice is leased to one of them at a time, and a lease that runs out
/// (its replica died mid-delivery) makes the notice due again, so a
/// notice is delivered at least once unless it is removed.
#[async_trait]
pub trait LogoutStore: Send + Sync {
    /// Records that `entry.client_id` received tokens in session
    /// `entry.sid`. Recording the same entry again keeps the later expiry.
    async fn record_session_client(&self, entry: &SessionClient) -> Result<()>;
    /// The live entries of a user's sessions, ordered by sid, then client.
    async fn session_clients(&self, user_id: &str) -> Result<Vec<SessionClient>>;
    /// Forgets exactly these entries of the user (by sid and client);
    /// idempotent. One recorded since is kept.
    async fn forget_session_clients(&self, user_id: &str, entries: &[SessionClient]) -> Result<()>;
    /// Queues the notices; one whose id is queued already is left as it is.
    async fn queue_logout_notices(&self, notices: &[LogoutNotice]) -> Result<()>;
    /// Up to `limit` notices due now, earliest due first, each leased to
    /// this caller: due again only `lease_seconds` from now. Of concurrent
    /// callers, each notice goes to one.
    async fn lease_logout_notices(
        &self,
        limit: usize,
        lease_seconds: i64,
    ) -> Result<Vec<LogoutNotice>>;
    /// Replaces the queued notice of `notice.id` (its attempts and due
    /// time, after a failed delivery). `NotFound` if it is not queued.
    async fn reschedule_logout_notice(&self, notice: &LogoutNotice) -> Result<()>;
    /// Delivered or given up: the notice leaves the queue. Idempotent.
    async fn remove_logout_notice(&self, id: &str) -> Result<()>;
}

/// The audit trail: the security events every replica appends, kept in
/// one order for `audit tail` and the admin API, until purged by age.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entries` in order. Each gets an id greater than every id
    /// appended before it, on any replica.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Up to `limit` events appended after the event `after` (from the
    /// oldest when `None`), oldest first. An id not of this backend's
    /// form is `NotFound`; one purged since still marks its place.
    async fn audit_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>>;
    /// Up to `limit` events appended before the event `before` (from the
    /// newest when `None`), newest first.
    async fn audit_before(&self, before: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>>;
    /// Removes up to `limit` of the oldest events whose `at` is before
    /// `cutoff`; how many it removed.
    async fn purge_audit(&self, cutoff: i64, limit: usize) -> Result<usize>;
    /// The id a reader of the trail named `reader` (the webhook) saved as
    /// its position, if any.
    async fn audit_cursor(&self, reader: &str) -> Result<Option<String>>;
    /// Saves `reader`'s position.
    async fn set_audit_cursor(&self, reader: &str, id: &str) -> Result<()>;
}

/// A whole backend: every aggregate, plus what operations need.
#[async_trait]
pub trait Store:
    ClientStore
    + ApiStore
    + UserStore
    + GroupStore
    + CodeStore
    + RefreshTokenStore
    + SessionStore
    + ConsentStore
    + RevocationStore
    + KeyStore
    + CounterStore
    + FactorStore
    + DeviceStore
    + LogoutStore
    + AuditStore
    + std::fmt::Debug
{
    /// `"sqlite"` or `"redis"`, for metrics and health.
    fn backend(&self) -> &'static str;
    /// [`UserStore::get_user`] with the groups that list the user as a
    /// direct member (ordered by id), as
    /// [`GroupStore::groups_with_member`] answers: in one call, so that a
    /// backend may read a user with its membership index (a Redis Cluster
    /// keeps both in one hash slot: one round trip, not two).
    async fn get_user_with_groups(&self, id: &str) -> Result<(UserRecord, Vec<GroupRecord>)> {
        user_with_groups_apart(self, id).await
    }
    /// [`UserStore::get_user_by_name`] with the user's direct groups,
    /// likewise (on a Redis Cluster the name's reservation, then the user
    /// with its membership index: two round trips, not three).
    async fn get_user_by_name_with_groups(
        &self,
        user_name: &str,
    ) -> Result<(UserRecord, Vec<GroupRecord>)> {
        let user = self.get_user_by_name(user_name).await?;
        let groups = self.groups_with_member(&user.id).await?;
        Ok((user, groups))
    }
    /// [`UserStore::list_users`] with each user's direct groups, likewise.
    async fn list_users_with_groups(
        &self,
        page: Page,
    ) -> Result<Paged<(UserRecord, Vec<GroupRecord>)>> {
        users_with_groups_apart(self, page).await
    }
    /// The node the backend writes to (`host:port`), once connected: for
    /// Redis behind Sentinel, the primary the Sentinels named last. `None`
    /// for the embedded database.
    fn primary(&self) -> Option<String> {
        None
    }
    /// Succeeds when the backend answers a trivial request.
    async fn ping(&self) -> Result<()>;
    /// Backend settings an operator should see (`doctor`): Redis
    /// persistence (`appendonly`, `appendfsync`, `save`), memory
    /// (`maxmemory`, `maxmemory-policy`) and its clock (`time`, Unix
    /// seconds); SQLite `journal_mode` and `synchronous`.
    /// A setting the backend will not tell is absent.
    async fn diagnostics(&self) -> Result<std::collections::BTreeMap<String, String>>;
    /// Deletes expired records (a no-op where the backend expires them
    /// itself). Returns how many were removed.
    async fn purge_expired(&self) -> Result<u64>;
    /// Brings the userName index of users stored by earlier versions to
    /// [`crate::user_name_key`] (docs/security.md 26). Idempotent and cheap once
    /// done. A user whose new key another user already holds keeps its old
    /// key (so it can still be found by id, and renamed) and is returned, for
    /// the operator. SQLite does this when it opens (schema migration 4).
    async fn upgrade_user_name_keys(&self) -> Result<Vec<String>>;
}

/// [`Store::get_user_with_groups`] as two calls: the user, then its groups.
pub async fn user_with_groups_apart<S: UserStore + GroupStore + ?Sized>(
    store: &S,
    id: &str,
) -> Result<(UserRecord, Vec<GroupRecord>)> {
    let user = store.get_user(id).await?;
    let groups = store.groups_with_member(id).await?;
    Ok((user, groups))
}

/// [`Store::list_users_with_groups`] as two calls: the page, then the
/// groups of its users.
pub async fn users_with_groups_apart<S: UserStore + GroupStore + ?Sized>(
    store: &S,
    page: Page,
) -> Result<Paged<(UserRecord, Vec<GroupRecord>)>> {
    let users = store.list_users(page).await?;
    let ids: Vec<String> = users.items.iter().map(|u| u.id.clone()).collect();
    let mut by_member: std::collections::HashMap<String, Vec<GroupRecord>> =
        std::collections::HashMap::new();
    for (member, group) in store.groups_with_members(&ids).await? {
        by_member.entry(member).or_default().push(group);
    }
    let items = users
        .items
        .into_iter()
        .map(|user| {
            let groups = by_member.remove(&user.id).unwrap_or_default();
            (user, groups)
        })
        .collect();
    Ok(Paged {
        total: users.total,
        items,
    })
}
