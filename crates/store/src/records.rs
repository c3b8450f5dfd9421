//! The records the store keeps. Timestamps are Unix seconds from the store's
//! [`Clock`](crate::Clock). SCIM attributes travel as JSON, because the
//! SCIM layer owns their schema; everything the OAuth side reads back
//! (client metadata, a grant's authentication context, a session's data)
//! is a typed struct, so a stored record is parsed once, when it is read,
//! and one that does not parse is a [`crate::Error::Corrupt`], never a
//! silently defaulted field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A page request: `offset` records skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

/// One page of a stable, id-ordered list, with the total count.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    /// Keyed hash of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub created_at: i64,
    /// Further registration metadata (JWKS, ID token alg, token lifetimes…).
    #[serde(default)]
    pub metadata: ClientMetadata,
}

/// A client's registration beyond the RFC 6749 basics, in RFC 7591 names
/// where one exists. Absent fields take their documented defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// OpenID Connect RP-Initiated Logout 1.0 §3.1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Its logout tokens must carry `sid` (they always do when a session
    /// ended; kept to answer what it registered).
    #[serde(default, skip_serializing_if = "is_false")]
    pub backchannel_logout_session_required: bool,
    /// OpenID Connect Dynamic Client Registration §2; RS256 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Trusted by configuration: no consent page.
    #[serde(default, skip_serializing_if = "is_false")]
    pub first_party: bool,
    /// `client create --require-mfa`: its users sign in with two factors.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_mfa: bool,
    /// `auth-service client disable`: cannot authenticate, and every token
    /// it holds is refused while it stays disabled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Access-token lifetime in seconds (capped at the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
    /// RFC 7591 §2 `jwks`, for `private_key_jwt` (public keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// The APIs (RFC 8707 resource identifiers) it may ask tokens for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The one of them its tokens are for when a request names none; this
    /// issuer's own APIs when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_resource: Option<String>,
    /// Long-lived tokens `auth-service token mint` issued for this client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minted_tokens: Vec<MintedToken>,
    /// The APIs it may exchange tokens for (RFC 8693; `client create
    /// --exchange-resource`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchange_resources: Vec<String>,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dpop_bound_access_tokens: bool,
    /// RFC 9126 §6: its authorization requests must be pushed (`/par`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_pushed_authorization_requests: bool,
    /// Claims its ID tokens and userinfo carry beyond the standard ones,
    /// as `oauth::claim_mapping` specs (`client create --claim`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_mappings: Vec<String>,
    /// RFC 9101 §10.5: its authorization requests must be request objects
    /// signed with its keys.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_signed_request_object: bool,
    /// Read from its client ID metadata document (`client_id` is its URL):
    /// when it was fetched and until when this copy is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_document: Option<MetadataDocument>,
    /// Registered over HTTP (RFC 7591) rather than on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<DynamicRegistration>,
    /// Fields a newer version of the service wrote, kept unchanged so that
    /// an older replica rewriting the record during a rolling upgrade does
    /// not drop them.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// The cache time of a client read from its metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataDocument {
    pub fetched_at: i64,
    pub expires_at: i64,
}

/// How a client registered itself (RFC 7591): the hash of its
/// registration access token (RFC 7592), the initial access token that
/// allowed it, and when an open registration ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicRegistration {
    /// SHA-256 of the registration access token, hex.
    pub access_token_hash: String,
    /// The `jti` of the initial access token it was registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_token: Option<String>,
    /// Unix seconds after which the client cannot authenticate or hold
    /// tokens (`AUTH_REGISTRATION_CLIENT_TTL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// A token minted on the command line, remembered so that deleting the
/// client revokes it by `jti`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    pub jti: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub kid: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_false(value: &bool) -> bool {
    !*value
}

/// How the user authenticated, as a code or refresh family remembers it
/// for the ID tokens it will issue (OpenID Connect Core §2: `auth_time`,
/// `amr`, `sid`, `nonce`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Authentication methods (RFC 8176), e.g. `["pwd"]`. Older records
    /// may hold `null`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub amr: Vec<String>,
    /// The authorization request's nonce; codes only (a refresh's ID token
    /// carries none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The APIs the grant is for (RFC 8707 §2.1), as identifiers; empty
    /// for this issuer's own. A token request may narrow to some of them
    /// (§2.2), never widen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The DPoP key (RFC 9449 thumbprint) a public client's refresh tokens
    /// are bound to (§5): a refresh needs a proof of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// What a browser session knows beyond its timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The session id relying parties see (the ID token's `sid`, OpenID
    /// Connect Front-Channel Logout §3); not the cookie value.
    pub sid: String,
    /// How the user signed in (RFC 8176).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// A user, as SCIM resource plus the fields the store indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    /// Unique regardless of case (RFC 7643 §4.1.1: userName is caseExact false).
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// Argon2id PHC string; never returned by any API.
    pub password_hash: Option<String>,
    /// The remaining SCIM attributes (name, emails, enterprise extension…).
    pub attributes: Value,
    /// Incremented by the store on every update; the SCIM ETag derives from it.
    pub version: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The type of a group member (RFC 7643 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberKind {
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The member's id.
    pub value: String,
    pub kind: MemberKind,
}

/// A group of users and groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<GroupMember>,
    pub attributes: Value,
    pub version: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A protected resource (an API) that access tokens are issued for: RFC
/// 8707 resource indicators name it, and its tokens carry its identifier
/// as `aud`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiRecord {
    /// The resource indicator: an absolute URI without a fragment (RFC
    /// 8707 §2), compared exactly.
    pub identifier: String,
    pub name: String,
    /// The scopes it offers.
    pub scopes: Vec<String>,
    /// Access-token lifetime in seconds (capped at the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
    /// The algorithm its access tokens are signed with (`ES256`, `RS256`);
    /// the service's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    pub created_at: i64,
}

/// An authorization code, keyed by the hash of the code value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: String,
    pub expires_at: i64,
    pub grant: GrantContext,
}

/// The outcome of [`CodeStore::take`](crate::CodeStore::take).
#[derive(Debug, Clone, PartialEq)]
pub enum CodeTake {
    /// This caller is the one and only redeemer.
    Fresh(AuthorizationCode),
    /// The code was already taken: a replay (RFC 6749 §4.1.2).
    AlreadyUsed(AuthorizationCode),
}

/// A refresh-token family: the chain of refresh tokens issued from one grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub grant: GrantContext,
    pub created_at: i64,
    /// Absolute end of the family.
    pub expires_at: i64,
    /// End of the family if it is not used before then; moved on each rotation.
    pub idle_expires_at: i64,
    /// When the current token replaced the previous one.
    pub rotated_at: i64,
    pub revoked: bool,
    /// The browser session the grant came from, so that logging out of it
    /// can end the family (RP-Initiated Logout).
    #[serde(default)]
    pub session_id: Option<String>,
}

/// The outcome of [`RefreshTokenStore::rotate`](crate::RefreshTokenStore::rotate).
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The presented token was current; the new one replaces it.
    Rotated(RefreshFamily),
    /// The presented token was replaced less than the grace period ago
    /// (a concurrent refresh); nothing changed.
    WithinGrace(RefreshFamily),
    /// The presented token was replaced earlier: the family is now revoked
    /// (RFC 9700 §4.14.2).
    ReuseDetected(RefreshFamily),
}

/// A browser session, keyed by the hash of the session id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub auth_time: i64,
    /// Absolute timeout.
    pub expires_at: i64,
    /// Idle timeout, moved by [`SessionStore::touch`](crate::SessionStore::touch).
    pub idle_expires_at: i64,
    pub data: SessionData,
}

/// What kind of factor a [`Factor`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A time-based one-time password generator (RFC 6238).
    Totp,
    /// A WebAuthn credential.
    Passkey,
    /// One of the user's single-use recovery codes: one record per code,
    /// named by the code's keyed hash, so that using a code is one atomic
    /// [`crate::FactorStore::delete_factor`] that exactly one caller wins.
    RecoveryCodes,
}

/// A user's sign-in factor beyond the password: a TOTP generator, a
/// passkey, or recovery codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub kind: FactorKind,
    /// The user's name for it ("phone", "YubiKey").
    pub name: String,
    /// A secret the factor checks against, sealed with the master key as
    /// signing keys are (a TOTP seed). A passkey has none: its public key
    /// is in `data`.
    pub sealed_secret: Option<String>,
    /// What the kind needs that is not secret (a passkey's credential id
    /// and public key).
    pub data: Value,
    /// The last accepted TOTP time step, or a passkey's signature counter:
    /// only [`crate::FactorStore::advance_factor`] moves it, and only up.
    pub counter: u64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony in progress: what the relying party must keep
/// between the options it sent a browser and the credential that comes
/// back (the challenge among it). Single use: [`crate::FactorStore::take_challenge`]
/// hands it out once, so a replayed response finds nothing (W3C WebAuthn
/// Level 3 §13.4.3, "Cryptographic Challenges").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Random and unguessable; the page carries it back.
    pub id: String,
    /// The user registering or signing in with a second factor; `None` for
    /// a passwordless sign-in, whose user the credential names.
    pub user_id: Option<String>,
    /// The ceremony's state, opaque to the store.
    pub state: Value,
    pub expires_at: i64,
}

/// A device authorization in progress (RFC 8628 §3.1–§3.5): what the
/// device asked for, under the hashes of its two codes. The store keeps the
/// user's decision and the polling state beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// The SHA-256 of the device code the client polls with.
    pub device_code_hash: String,
    /// The SHA-256 of the normalised user code the user types.
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    /// The APIs the tokens will be for (RFC 8707), as identifiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The least number of seconds between two polls (RFC 8628 §3.2).
    pub interval: i64,
}

/// The user's answer to a device authorization (RFC 8628 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum DeviceDecision {
    Approved {
        user_id: String,
        grant: GrantContext,
    },
    Denied,
}

/// What one poll of a device authorization finds (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// Sooner than the interval after the previous poll: the interval has
    /// grown to this many seconds (`slow_down`).
    SlowDown(i64),
    /// The user has not decided yet (`authorization_pending`).
    Pending,
    /// The user's decision, given to exactly one poll.
    Decided(DeviceAuthorization, Box<DeviceDecision>),
    /// An earlier poll took the decision.
    AlreadyUsed,
}

/// A client that received tokens in a browser session (OpenID Connect
/// Back-Channel Logout 1.0 §2.1): whom to tell when the session ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClient {
    pub user_id: String,
    /// The session's `sid`, as in the ID tokens it issued.
    pub sid: String,
    pub client_id: String,
    /// Until when the entry matters: the session cannot outlive it.
    pub expires_at: i64,
}

/// A logout token still to be delivered to a client's
/// `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0 §2.5).
/// The token is signed at each attempt; `id` is its `jti`, the same at
/// every attempt, so that a receiver can tell a retry from a new logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutNotice {
    pub id: String,
    pub client_id: String,
    /// The logout token's `sub`.
    pub user_id: String,
    /// The logout token's `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// When it is next tried.
    pub due_at: i64,
    pub queued_at: i64,
}

/// A security event to append to the audit trail: when it happened (Unix
/// seconds) and its log line's fields, a JSON object (docs/operations.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub data: String,
}

/// An event of the audit trail, with the id the store gave it when it was
/// appended: ids grow in the order events were appended, on every replica,
/// and mean nothing else (a cursor, not a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub data: String,
}

/// A user's consent to a client's scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

/// The lifecycle state of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published in the JWKS, not yet signing.
    Pending,
    /// Signing.
    Active,
    /// Published until every token it signed has expired.
    Retired,
}

/// A signing key. The private part is sealed with the master key before it
/// reaches the store; this crate never sees it in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    /// Base64 of the AEAD-sealed private key.
    pub private_sealed: String,
    pub public_jwk: Value,
    pub created_at: i64,
    pub activates_at: i64,
    pub retired_at: Option<i64>,
    /// When the key may be removed from the JWKS.
    pub remove_at: Option<i64>,
    /// The latest expiry of a long-lived token this key signed (`token
    /// mint`): the key stays published until then, even if retired.
    #[serde(default)]
    pub keep_until: Option<i64>,
    pub version: u64,
}

/// The key under which a userName is unique and found (docs/security.md 26):
/// the RFC 8265 §3.3 UsernameCaseMapped profile (width mapping, case
/// mapping, NFC) applied to each space-separated userpart (§3.1), so that
/// "Alice", "alice", fullwidth "ａｌｉｃｅ" or an extra space are one user
/// (RFC 7643 §4.1.1 makes userName `caseExact: false`).
///
/// Names the profile refuses are refused at the edge (`scim::user_name`);
/// one stored before that rule, which the profile refuses, keeps the old
/// lower-case key so it can still be found.
pub fn user_name_key(user_name: &str) -> String {
    use precis_profiles::UsernameCaseMapped;
    use precis_profiles::precis_core::profile::PrecisFastInvocation;
    let parts: Result<Vec<_>, _> = user_name
        .split(' ')
        .filter(|part| !part.is_empty())
        .map(UsernameCaseMapped::enforce)
        .collect();
    match parts {
        Ok(parts) if !parts.is_empty() => parts.join(" "),
        _ => user_name.to_lowercase(),
    }
}

/// The index keys of a user's email addresses: each `emails[].value`,
/// lower-cased (RFC 7643 §4.1.2: `emails.value` is `caseExact: false`),
/// sorted and without repeats.
pub fn email_keys(user: &UserRecord) -> Vec<String> {
    let mut keys: Vec<String> = user
        .attributes
        .get("emails")
        .and_then(Value::as_array)
        .map(|emails| {
            emails
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_written_by_earlier_versions_still_parse() {
        let grant: GrantContext =
            serde_json::from_value(json!({"nonce": null, "auth_time": 7, "sid": "s", "amr": null}))
                .unwrap();
        assert_eq!(
            grant,
            GrantContext {
                auth_time: Some(7),
                sid: Some("s".into()),
                amr: vec![],
                nonce: None,
                resources: vec![],
                dpop_jkt: None,
            }
        );
        let metadata: ClientMetadata = serde_json::from_value(json!({
            "first_party": true,
            "minted_tokens": [{"jti": "j", "scope": "a", "created_at": 1, "expires_at": 2, "kid": "k"}],
            "written_by_a_newer_version": {"x": 1},
        }))
        .unwrap();
        assert!(metadata.first_party && !metadata.disabled);
        assert_eq!(metadata.minted_tokens[0].jti, "j");
        // What this version does not know survives a rewrite.
        assert_eq!(
            serde_json::to_value(&metadata).unwrap()["written_by_a_newer_version"],
            json!({"x": 1})
        );
        assert_eq!(
            serde_json::to_value(ClientMetadata::default()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn a_malformed_record_is_refused_not_defaulted() {
        for bad in [
            json!({"first_party": "yes"}),
            json!({"disabled": 1}),
            json!({"access_token_ttl": -5}),
            json!({"minted_tokens": [{"jti": "j"}]}),
        ] {
            assert!(
                serde_json::from_value::<ClientMetadata>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_value::<SessionData>(json!({"amr": ["pwd"]})).is_err());
        assert!(serde_json::from_value::<GrantContext>(json!({"auth_time": "now"})).is_err());
    }
}
