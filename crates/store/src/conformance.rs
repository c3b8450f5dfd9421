//! The conformance suite: the store contracts as executable checks. Every
//! backend runs all of it through [`conformance_tests!`](crate::conformance_tests),
//! which expands to one `#[tokio::test]` per case.
//!
//! A case receives a [`Harness`]: a fresh, empty store, a second handle on the
//! same data (another connection, as another replica would have), and the test
//! clock both read. Cases never sleep; they advance the clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::error::Conflict;
use crate::{
    ApiRecord, AuditEntry, AuthorizationCode, Challenge, ClientRecord, CodeTake, Consent,
    DeviceAuthorization, DeviceDecision, DevicePoll, DynamicRegistration, Error, Factor,
    FactorKind, GrantContext, GroupMember, GroupRecord, KeyState, LogoutNotice, MemberKind,
    MetadataDocument, Page, RefreshFamily, Rotation, Session, SessionClient, SessionData,
    SigningKey, Store, TestClock, UserRecord,
};

/// What a conformance case runs against.
#[derive(Debug)]
pub struct Harness {
    pub store: Arc<dyn Store>,
    /// A second handle on the same data, with its own connections.
    pub other: Arc<dyn Store>,
    pub clock: TestClock,
    /// Whatever keeps the backend alive for the test (a server process, a
    /// temporary directory); dropped with the harness.
    pub guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Expands to one test per conformance case. `$factory` is an async fn
/// returning a [`Harness`] over a fresh, empty store.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@cases $factory;
            ping, diagnostics_answer, clients_crud, registered_clients_keep_their_registration,
            initial_token_uses_are_counted_once_each, dpop_proof_ids_are_used_once,
            clients_keyed_by_their_metadata_document_url, apis_crud, users_crud, user_name_unique_ignoring_case, user_version_cas,
            users_by_external_id, users_by_email, user_pagination_is_stable, groups_and_members,
            groups_of_many_members, users_with_their_groups, factors_crud,
            factor_counters_only_go_up, concurrent_uses_of_one_code_have_one_winner,
            concurrent_deletes_of_one_factor_have_one_winner, challenges_single_use,
            challenges_expire, concurrent_challenge_takes_have_one_winner,
            remove_member_everywhere, codes_single_use, codes_expire,
            concurrent_code_takes_have_one_winner, refresh_rotation_and_reuse,
            refresh_grace_window, concurrent_rotations_have_one_winner, refresh_expiry,
            revoke_families_for_user, sessions, consents, revoked_token_ids, signing_keys,
            counters_and_leases, concurrent_increments_from_two_handles_sum_exactly,
            rate_limits_are_shared, concurrent_rate_limited_requests_admit_the_burst,
            attempts_back_off, concurrent_attempts_get_exactly_the_threshold,
            purge_keeps_live_records, device_authorization_lifecycle,
            device_user_codes_unique_while_undecided, concurrent_device_decisions_and_polls_have_one_winner,
            session_clients, logout_notice_queue, concurrent_leases_hand_each_notice_to_one,
            audit_trail_in_append_order, concurrent_appends_keep_every_event_once);
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::$case($factory().await).await;
            }
        )*
    };
}

pub const T0: i64 = 1_800_000_000;

fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        user_name: name.into(),
        external_id: None,
        active: true,
        password_hash: None,
        attributes: json!({"name": {"givenName": name}}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        name: format!("client {id}"),
        secret_hash: Some("hash".into()),
        public: false,
        grant_types: vec!["client_credentials".into()],
        redirect_uris: vec![],
        scopes: vec!["read".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        created_at: T0,
        metadata: Default::default(),
    }
}

fn group(id: &str, members: &[&str]) -> GroupRecord {
    GroupRecord {
        id: id.into(),
        display_name: format!("group {id}"),
        external_id: None,
        members: members
            .iter()
            .map(|m| GroupMember {
                value: (*m).into(),
                kind: MemberKind::User,
            })
            .collect(),
        attributes: json!({}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn code(hash: &str, expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        expires_at,
        grant: GrantContext {
            nonce: Some("n-0S6_WzA2Mj".into()),
            resources: vec!["https://api.example/orders".into()],
            ..GrantContext::default()
        },
    }
}

fn family(id: &str, now: i64) -> RefreshFamily {
    RefreshFamily {
        id: id.into(),
        client_id: "c1".into(),
        user_id: Some("u1".into()),
        scope: "openid offline_access".into(),
        grant: Default::default(),
        created_at: now,
        expires_at: now + 86_400,
        idle_expires_at: now + 3_600,
        rotated_at: now,
        revoked: false,
        session_id: None,
    }
}

fn session(hash: &str, user: &str, now: i64) -> Session {
    Session {
        id_hash: hash.into(),
        user_id: user.into(),
        created_at: now,
        auth_time: now,
        expires_at: now + 3_600,
        idle_expires_at: now + 600,
        data: SessionData {
            sid: "sid-1".into(),
            amr: vec!["pwd".into()],
        },
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: crate::Result<T>) {
    assert!(
        matches!(result, Err(Error::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

fn assert_conflict<T: std::fmt::Debug>(result: crate::Result<T>, expected: Conflict) {
    match result {
        Err(Error::Conflict(c)) => assert_eq!(c, expected),
        other => panic!("expected Conflict({expected:?}), got {other:?}"),
    }
}

pub async fn ping(h: Harness) {
    h.store.ping().await.unwrap();
    h.other.ping().await.unwrap();
}

pub async fn clients_crud(h: Harness) {
    let s = &h.store;
    s.create_client(&client("b")).await.unwrap();
    s.create_client(&client("a")).await.unwrap();
    assert_conflict(s.create_client(&client("a")).await, Conflict::Exists);
    assert_eq!(s.get_client("a").await.unwrap(), client("a"));
    let ids: Vec<_> = s
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    let mut changed = client("a");
    changed.redirect_uris.push("https://app.example/cb".into());
    s.update_client(&changed).await.unwrap();
    assert_eq!(h.other.get_client("a").await.unwrap(), changed);
    s.delete_client("a").await.unwrap();
    assert_not_found(s.get_client("a").await);
    assert_not_found(s.delete_client("a").await);
    assert_not_found(s.update_client(&client("zz")).await);
}

/// A client registered over HTTP (RFC 7591) keeps what its registration
/// access token and expiry are checked against, on every handle.
pub async fn registered_clients_keep_their_registration(h: Harness) {
    let mut registered = client("dyn");
    registered.metadata.registration = Some(DynamicRegistration {
        access_token_hash: "ab".repeat(32),
        initial_token: Some("iat-1".into()),
        expires_at: Some(T0 + 3600),
    });
    h.store.create_client(&registered).await.unwrap();
    assert_eq!(h.other.get_client("dyn").await.unwrap(), registered);
    // An update that leaves the registration alone keeps it.
    let mut renamed = registered.clone();
    renamed.name = "renamed".into();
    h.other.update_client(&renamed).await.unwrap();
    assert_eq!(
        h.store
            .get_client("dyn")
            .await
            .unwrap()
            .metadata
            .registration,
        registered.metadata.registration
    );
}

/// An initial access token's registrations are counted in the store: of
/// concurrent uses from two replicas, exactly the token's limit see a
/// count within it, and the count expires with the token.
pub async fn initial_token_uses_are_counted_once_each(h: Harness) {
    const LIMIT: i64 = 3;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.increment("registration:initial:iat-1", 1, 30).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() <= LIMIT {
            admitted += 1;
        }
    }
    assert_eq!(admitted, LIMIT);
    h.clock.advance(31);
    assert_eq!(
        h.store
            .increment("registration:initial:iat-1", 1, 30)
            .await
            .unwrap(),
        1
    );
}

/// The cache of client ID metadata documents: a client whose id is its
/// document's URL (characters a key or a hash tag would mind: `:`, `/`,
/// `{`, `}`, `%`) round trips with its cache time, and a refetch replaces
/// it on every handle.
pub async fn clients_keyed_by_their_metadata_document_url(h: Harness) {
    let url = "https://app.example.com/{tenant}/oauth%2Fclient.json";
    let mut fetched = client(url);
    fetched.public = true;
    fetched.secret_hash = None;
    fetched.metadata.metadata_document = Some(MetadataDocument {
        fetched_at: T0,
        expires_at: T0 + 300,
    });
    h.store.create_client(&fetched).await.unwrap();
    assert_eq!(h.other.get_client(url).await.unwrap(), fetched);
    assert_not_found(h.other.get_client("https://app.example.com/").await);
    let mut refetched = fetched.clone();
    refetched.metadata.metadata_document = Some(MetadataDocument {
        fetched_at: T0 + 400,
        expires_at: T0 + 700,
    });
    refetched.redirect_uris = vec!["https://app.example.com/cb".into()];
    h.other.update_client(&refetched).await.unwrap();
    assert_eq!(h.store.get_client(url).await.unwrap(), refetched);
    assert!(
        h.store
            .list_clients()
            .await
            .unwrap()
            .iter()
            .any(|c| c.client_id == url)
    );
}

/// The DPoP replay cache (RFC 9449 §11.1): of one proof sent to two
/// replicas at once, exactly one sees it first; it is forgotten after the
/// window, when its `iat` is too old to be taken anyway.
pub async fn dpop_proof_ids_are_used_once(h: Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.increment("dpop:proof-1", 1, 121).await })
        })
        .collect();
    let mut first = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == 1 {
            first += 1;
        }
    }
    assert_eq!(first, 1);
    assert_eq!(h.other.increment("dpop:proof-2", 1, 121).await.unwrap(), 1);
    h.clock.advance(122);
    assert_eq!(h.store.increment("dpop:proof-1", 1, 121).await.unwrap(), 1);
}

fn api(identifier: &str) -> ApiRecord {
    ApiRecord {
        identifier: identifier.into(),
        name: format!("API {identifier}"),
        scopes: vec!["read".into(), "write".into()],
        access_token_ttl: Some(300),
        alg: Some("ES256".into()),
        created_at: T0,
    }
}

/// APIs are keyed by their identifier, a URI compared exactly: characters
/// a key or a cluster hash tag would mind (`{`, `}`, `:`, `/`, `%`) and
/// case are kept as given.
pub async fn apis_crud(h: Harness) {
    let s = &h.store;
    let ids = [
        "https://api.example.com/orders",
        "https://api.example.com/Orders",
        "urn:example:{tenant}:billing%2Fv1",
    ];
    for id in ids.iter().rev() {
        s.create_api(&api(id)).await.unwrap();
    }
    assert_conflict(s.create_api(&api(ids[0])).await, Conflict::Exists);
    assert_eq!(h.other.get_api(ids[2]).await.unwrap(), api(ids[2]));
    assert_not_found(s.get_api("https://api.example.com/orders/").await);
    let listed: Vec<String> = s
        .list_apis()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.identifier)
        .collect();
    let mut sorted = ids.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(listed, sorted);
    s.delete_api(ids[1]).await.unwrap();
    assert_not_found(s.delete_api(ids[1]).await);
    assert_not_found(h.other.get_api(ids[1]).await);
    assert_eq!(s.list_apis().await.unwrap().len(), 2);
}

pub async fn users_crud(h: Harness) {
    let s = &h.store;
    let alice = user("u-1", "alice@example.com");
    s.create_user(&alice).await.unwrap();
    assert_eq!(s.get_user("u-1").await.unwrap(), alice);
    assert_eq!(h.other.get_user("u-1").await.unwrap(), alice);
    assert_conflict(s.create_user(&user("u-1", "other")).await, Conflict::Exists);
    s.delete_user("u-1").await.unwrap();
    assert_not_found(s.get_user("u-1").await);
    assert_not_found(s.get_user_by_name("alice@example.com").await);
    assert_not_found(s.delete_user("u-1").await);
    // The name is free again once its owner is gone.
    s.create_user(&user("u-2", "Alice@example.com"))
        .await
        .unwrap();
}

pub async fn user_name_unique_ignoring_case(h: Harness) {
    let s = &h.store;
    s.create_user(&user("u-1", "Alice")).await.unwrap();
    s.create_user(&user("u-2", "bob")).await.unwrap();
    assert_conflict(
        s.create_user(&user("u-3", "ALICE")).await,
        Conflict::Unique("userName"),
    );
    assert_eq!(s.get_user_by_name("aLiCe").await.unwrap().id, "u-1");
    // Renaming onto another user's name fails and changes nothing.
    let mut bob = s.get_user("u-2").await.unwrap();
    bob.user_name = "alice".into();
    assert_conflict(s.update_user(&bob).await, Conflict::Unique("userName"));
    assert_eq!(s.get_user_by_name("bob").await.unwrap().version, 1);
    // A change of case only is the same user keeping its name.
    let mut alice = s.get_user("u-1").await.unwrap();
    alice.user_name = "ALICE".into();
    let stored = s.update_user(&alice).await.unwrap();
    assert_eq!(stored.user_name, "ALICE");
    // The old name moves with the rename.
    let mut bob = s.get_user("u-2").await.unwrap();
    bob.user_name = "robert".into();
    s.update_user(&bob).await.unwrap();
    assert_not_found(s.get_user_by_name("bob").await);
    assert_eq!(s.get_user_by_name("Robert").await.unwrap().id, "u-2");
    s.create_user(&user("u-4", "Bob")).await.unwrap();
    // RFC 8265 (docs/security.md 26): fullwidth forms and extra spaces are the
    // same name; lookups by them find the user.
    assert_conflict(
        s.create_user(&user("u-5", "ＡＬＩＣＥ")).await,
        Conflict::Unique("userName"),
    );
    s.create_user(&user("u-6", "Barbara Jensen")).await.unwrap();
    assert_conflict(
        s.create_user(&user("u-7", " barbara  JENSEN")).await,
        Conflict::Unique("userName"),
    );
    assert_eq!(s.get_user_by_name("ａｌｉｃｅ").await.unwrap().id, "u-1");
    assert_eq!(
        s.get_user_by_name("BARBARA JENSEN ").await.unwrap().id,
        "u-6"
    );
    // Nothing stored by this version needs re-keying.
    assert_eq!(
        s.upgrade_user_name_keys().await.unwrap(),
        Vec::<String>::new()
    );
}

pub async fn user_version_cas(h: Harness) {
    let s = &h.store;
    s.create_user(&user("u-1", "alice")).await.unwrap();
    let read = s.get_user("u-1").await.unwrap();
    let mut first = read.clone();
    first.active = false;
    let stored = s.update_user(&first).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(s.get_user("u-1").await.unwrap(), stored);
    // A writer holding the old version loses.
    let mut stale = read;
    stale.attributes = json!({"title": "lost update"});
    assert_conflict(h.other.update_user(&stale).await, Conflict::Version);
    assert!(!s.get_user("u-1").await.unwrap().active);
    assert_not_found(s.update_user(&user("missing", "x")).await);
}

pub async fn diagnostics_answer(h: Harness) {
    let settings = h.store.diagnostics().await.unwrap();
    match h.store.backend() {
        "sqlite" => assert_eq!(settings["journal_mode"], "wal"),
        _ => assert!(settings["time"].parse::<i64>().unwrap() > 1_700_000_000),
    }
}

pub async fn groups_of_many_members(h: Harness) {
    let s = &h.store;
    s.create_group(&group("g-2", &["u-1", "u-2"]))
        .await
        .unwrap();
    s.create_group(&group("g-1", &["u-1"])).await.unwrap();
    s.create_group(&group("g-3", &["u-3"])).await.unwrap();
    let asked = ["u-2".to_owned(), "u-1".to_owned(), "nobody".to_owned()];
    let found: Vec<(String, String)> = s
        .groups_with_members(&asked)
        .await
        .unwrap()
        .into_iter()
        .map(|(member, group)| (member, group.id))
        .collect();
    let pair = |m: &str, g: &str| (m.to_owned(), g.to_owned());
    assert_eq!(
        found,
        [pair("u-1", "g-1"), pair("u-1", "g-2"), pair("u-2", "g-2")]
    );
    assert!(s.groups_with_members(&[]).await.unwrap().is_empty());
    // The same answer as one member at a time, after a change.
    let mut g2 = s.get_group("g-2").await.unwrap();
    g2.members.retain(|m| m.value != "u-1");
    s.update_group(&g2).await.unwrap();
    let found: Vec<String> = s
        .groups_with_members(&["u-1".to_owned()])
        .await
        .unwrap()
        .into_iter()
        .map(|(_, g)| g.id)
        .collect();
    let single: Vec<String> = s
        .groups_with_member("u-1")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(found, single);
    assert_eq!(found, ["g-1"]);
}

/// A user read with its groups answers what the user and
/// `groups_with_member` answer apart, for one user and for a page, after
/// the memberships change.
pub async fn users_with_their_groups(h: Harness) {
    let s = &h.store;
    for (id, name) in [("u-1", "a"), ("u-2", "b"), ("u-3", "c")] {
        s.create_user(&user(id, name)).await.unwrap();
    }
    s.create_group(&group("g-2", &["u-1", "u-3"]))
        .await
        .unwrap();
    s.create_group(&group("g-1", &["u-1"])).await.unwrap();
    let ids = |groups: &[GroupRecord]| groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>();
    let (u1, groups) = s.get_user_with_groups("u-1").await.unwrap();
    assert_eq!(u1, s.get_user("u-1").await.unwrap());
    assert_eq!(ids(&groups), ["g-1", "g-2"]);
    assert!(matches!(
        s.get_user_with_groups("nobody").await,
        Err(Error::NotFound)
    ));
    // By userName, which matches ignoring case.
    let (by_name, groups) = s.get_user_by_name_with_groups("A").await.unwrap();
    assert_eq!(by_name, u1);
    assert_eq!(ids(&groups), ["g-1", "g-2"]);
    assert!(matches!(
        s.get_user_by_name_with_groups("nobody").await,
        Err(Error::NotFound)
    ));
    let page = |offset, limit| Page { offset, limit };
    let listed = s.list_users_with_groups(page(0, 10)).await.unwrap();
    assert_eq!(listed.total, 3);
    let summary: Vec<(String, Vec<String>)> = listed
        .items
        .iter()
        .map(|(u, g)| (u.id.clone(), ids(g)))
        .collect();
    let row = |u: &str, g: &[&str]| (u.to_owned(), g.iter().map(|g| (*g).to_owned()).collect());
    assert_eq!(
        summary,
        [
            row("u-1", &["g-1", "g-2"]),
            row("u-2", &[]),
            row("u-3", &["g-2"])
        ]
    );
    // After u-1 leaves g-2 and u-2 joins it, on a page of two.
    let mut g2 = s.get_group("g-2").await.unwrap();
    g2.members.retain(|m| m.value != "u-1");
    g2.members.push(GroupMember {
        value: "u-2".into(),
        kind: MemberKind::User,
    });
    s.update_group(&g2).await.unwrap();
    let listed = s.list_users_with_groups(page(0, 2)).await.unwrap();
    let summary: Vec<(String, Vec<String>)> = listed
        .items
        .iter()
        .map(|(u, g)| (u.id.clone(), ids(g)))
        .collect();
    assert_eq!(summary, [row("u-1", &["g-1"]), row("u-2", &["g-2"])]);
    assert_eq!(listed.items[1].1[0], s.get_group("g-2").await.unwrap());
    let (_, groups) = s.get_user_with_groups("u-3").await.unwrap();
    assert_eq!(ids(&groups), ["g-2"]);
    let (_, groups) = s.get_user_by_name_with_groups("b").await.unwrap();
    assert_eq!(ids(&groups), ["g-2"]);
    // A renamed user is found by its new name only.
    let mut renamed = s.get_user("u-2").await.unwrap();
    renamed.user_name = "b2".into();
    s.update_user(&renamed).await.unwrap();
    assert!(matches!(
        s.get_user_by_name_with_groups("b").await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        s.get_user_by_name_with_groups("B2").await.unwrap().0.id,
        "u-2"
    );
    assert!(
        s.list_users_with_groups(page(3, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

fn factor(user_id: &str, id: &str, created_at: i64) -> Factor {
    Factor {
        id: id.into(),
        user_id: user_id.into(),
        kind: FactorKind::Totp,
        name: format!("factor {id}"),
        sealed_secret: Some("sealed".into()),
        data: json!({"transports": [], "digits": 6}),
        counter: 0,
        created_at,
        last_used_at: None,
    }
}

/// How many of 16 concurrent calls of `op`, half through each handle,
/// won: returned `Ok(true)`, or `Ok` of anything but `false`; `NotFound`
/// is a loss, any other error fails the case.
async fn winners<T, F, Fut>(h: &Harness, op: F) -> usize
where
    T: Won + Send + 'static,
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = crate::Result<T>> + Send + 'static,
{
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(op(store))
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(value) => winners += usize::from(value.won()),
            Err(Error::NotFound) => {}
            Err(e) => panic!("{e}"),
        }
    }
    winners
}

/// What a won call returns.
trait Won {
    fn won(&self) -> bool;
}

impl Won for bool {
    fn won(&self) -> bool {
        *self
    }
}

impl Won for () {
    fn won(&self) -> bool {
        true
    }
}

impl Won for Challenge {
    fn won(&self) -> bool {
        true
    }
}

pub async fn factors_crud(h: Harness) {
    let s = &h.store;
    s.insert_factor(&factor("u-1", "f-2", T0)).await.unwrap();
    s.insert_factor(&factor("u-1", "f-1", T0 + 1))
        .await
        .unwrap();
    s.insert_factor(&factor("u-2", "f-1", T0)).await.unwrap();
    assert_conflict(
        s.insert_factor(&factor("u-1", "f-1", T0)).await,
        Conflict::Exists,
    );
    let ids = |factors: Vec<Factor>| factors.into_iter().map(|f| f.id).collect::<Vec<_>>();
    // By creation time, then id; each user sees only their own.
    assert_eq!(ids(s.list_factors("u-1").await.unwrap()), ["f-2", "f-1"]);
    assert_eq!(ids(s.list_factors("u-2").await.unwrap()), ["f-1"]);
    assert!(s.list_factors("nobody").await.unwrap().is_empty());
    let stored = s.get_factor("u-1", "f-2").await.unwrap();
    assert_eq!(
        stored,
        factor("u-1", "f-2", T0),
        "kept as written, empty lists too"
    );
    assert_not_found(s.get_factor("u-2", "f-2").await);

    s.rename_factor("u-1", "f-2", "phone").await.unwrap();
    assert_eq!(
        h.other.get_factor("u-1", "f-2").await.unwrap().name,
        "phone"
    );
    assert_not_found(s.rename_factor("u-2", "f-2", "x").await);

    s.delete_factor("u-1", "f-2").await.unwrap();
    assert_not_found(s.delete_factor("u-1", "f-2").await);
    assert_not_found(s.get_factor("u-1", "f-2").await);
    assert_eq!(ids(s.list_factors("u-1").await.unwrap()), ["f-1"]);
    assert_eq!(s.delete_factors("u-1").await.unwrap(), 1);
    assert!(s.list_factors("u-1").await.unwrap().is_empty());
    assert_eq!(
        ids(s.list_factors("u-2").await.unwrap()),
        ["f-1"],
        "untouched"
    );
}

pub async fn factor_counters_only_go_up(h: Harness) {
    let s = &h.store;
    s.insert_factor(&factor("u-1", "f-1", T0)).await.unwrap();
    assert!(s.advance_factor("u-1", "f-1", 100, T0 + 5).await.unwrap());
    // The same step again (a replayed code), and an earlier one, change nothing.
    assert!(!s.advance_factor("u-1", "f-1", 100, T0 + 6).await.unwrap());
    assert!(!s.advance_factor("u-1", "f-1", 99, T0 + 7).await.unwrap());
    let f = s.get_factor("u-1", "f-1").await.unwrap();
    assert_eq!((f.counter, f.last_used_at), (100, Some(T0 + 5)));
    assert!(s.advance_factor("u-1", "f-1", 101, T0 + 8).await.unwrap());
    // A rename keeps the counter.
    s.rename_factor("u-1", "f-1", "phone").await.unwrap();
    let f = s.list_factors("u-1").await.unwrap().remove(0);
    assert_eq!(
        (f.counter, f.last_used_at, f.name.as_str()),
        (101, Some(T0 + 8), "phone")
    );
    assert_not_found(s.advance_factor("u-1", "missing", 1, T0).await);
    assert_not_found(s.advance_factor("u-2", "f-1", 1_000, T0).await);
    // A use without a counter moves only the last use.
    s.touch_factor("u-1", "f-1", T0 + 20).await.unwrap();
    let touched = s.get_factor("u-1", "f-1").await.unwrap();
    assert_eq!(
        (touched.counter, touched.last_used_at),
        (101, Some(T0 + 20))
    );
    assert!(!s.advance_factor("u-1", "f-1", 101, T0 + 21).await.unwrap());
    assert_not_found(s.touch_factor("u-1", "missing", T0).await);
    assert_not_found(s.touch_factor("u-2", "f-1", T0).await);
}

pub async fn concurrent_uses_of_one_code_have_one_winner(h: Harness) {
    h.store
        .insert_factor(&factor("u-1", "f-1", T0))
        .await
        .unwrap();
    let won = winners(&h, |store| async move {
        store.advance_factor("u-1", "f-1", 7, T0).await
    })
    .await;
    assert_eq!(won, 1);
}

/// A recovery code is used by deleting its record: of concurrent deletes
/// through two handles, exactly one succeeds, the rest see `NotFound`.
pub async fn concurrent_deletes_of_one_factor_have_one_winner(h: Harness) {
    h.store
        .insert_factor(&factor("u-1", "rc-1", T0))
        .await
        .unwrap();
    let won = winners(&h, |store| async move {
        store.delete_factor("u-1", "rc-1").await
    })
    .await;
    assert_eq!(won, 1);
}

fn challenge(id: &str, expires_at: i64) -> Challenge {
    Challenge {
        id: id.into(),
        user_id: Some("u-1".into()),
        state: json!({"rs": {"challenge": "AAEC", "policy": "required"}}),
        expires_at,
    }
}

pub async fn challenges_single_use(h: Harness) {
    let s = &h.store;
    let c = challenge("ch-1", T0 + 300);
    s.insert_challenge(&c).await.unwrap();
    assert_conflict(s.insert_challenge(&c).await, Conflict::Exists);
    assert_not_found(s.take_challenge("ch-2").await);
    // The other replica takes it; then nobody can.
    assert_eq!(h.other.take_challenge("ch-1").await.unwrap(), c);
    assert_not_found(s.take_challenge("ch-1").await);
    assert_not_found(h.other.take_challenge("ch-1").await);
    let passwordless = Challenge {
        user_id: None,
        ..challenge("ch-3", T0 + 300)
    };
    s.insert_challenge(&passwordless).await.unwrap();
    assert_eq!(s.take_challenge("ch-3").await.unwrap(), passwordless);
}

pub async fn challenges_expire(h: Harness) {
    let s = &h.store;
    s.insert_challenge(&challenge("ch-1", T0 + 300))
        .await
        .unwrap();
    s.insert_challenge(&challenge("ch-2", T0 + 300))
        .await
        .unwrap();
    h.clock.advance(299);
    s.take_challenge("ch-1").await.unwrap();
    h.clock.advance(1);
    assert_not_found(s.take_challenge("ch-2").await);
    // An expired id is free again, and purging keeps live challenges.
    s.insert_challenge(&challenge("ch-2", T0 + 600))
        .await
        .unwrap();
    s.purge_expired().await.unwrap();
    s.take_challenge("ch-2").await.unwrap();
}

pub async fn concurrent_challenge_takes_have_one_winner(h: Harness) {
    h.store
        .insert_challenge(&challenge("ch-1", T0 + 300))
        .await
        .unwrap();
    let won = winners(
        &h,
        |store| async move { store.take_challenge("ch-1").await },
    )
    .await;
    assert_eq!(won, 1);
}

pub async fn users_by_email(h: Harness) {
    let s = &h.store;
    let mut a = user("u-1", "a");
    a.attributes = json!({"emails": [
        {"value": "Shared@Example.com", "type": "work"},
        {"value": "a@home.example", "type": "home"},
        {"value": "shared@example.com", "type": "other"}
    ]});
    let mut b = user("u-2", "b");
    b.attributes = json!({"emails": [{"value": "shared@example.COM"}]});
    s.create_user(&b).await.unwrap();
    s.create_user(&a).await.unwrap();
    s.create_user(&user("u-3", "c")).await.unwrap();
    let ids = |users: Vec<UserRecord>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.find_users_by_email("SHARED@example.com").await.unwrap()),
        ["u-1", "u-2"]
    );
    assert_eq!(
        ids(s.find_users_by_email("a@home.example").await.unwrap()),
        ["u-1"]
    );
    // The index follows updates and deletes.
    a.attributes = json!({"emails": [{"value": "new@example.com"}]});
    s.update_user(&a).await.unwrap();
    assert_eq!(
        ids(s.find_users_by_email("shared@example.com").await.unwrap()),
        ["u-2"]
    );
    assert!(
        s.find_users_by_email("a@home.example")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.find_users_by_email("NEW@example.com").await.unwrap()),
        ["u-1"]
    );
    s.delete_user("u-2").await.unwrap();
    assert!(
        s.find_users_by_email("shared@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.find_users_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn users_by_external_id(h: Harness) {
    let s = &h.store;
    let mut a = user("u-1", "a");
    a.external_id = Some("ext-1".into());
    let mut b = user("u-2", "b");
    b.external_id = Some("ext-1".into());
    s.create_user(&b).await.unwrap();
    s.create_user(&a).await.unwrap();
    s.create_user(&user("u-3", "c")).await.unwrap();
    let found: Vec<_> = s
        .find_users_by_external_id("ext-1")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(found, ["u-1", "u-2"]);
    assert!(
        s.find_users_by_external_id("EXT-1")
            .await
            .unwrap()
            .is_empty()
    );
    a.external_id = Some("ext-2".into());
    s.update_user(&a).await.unwrap();
    assert_eq!(s.find_users_by_external_id("ext-1").await.unwrap().len(), 1);
    s.delete_user("u-2").await.unwrap();
    assert!(
        s.find_users_by_external_id("ext-1")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn user_pagination_is_stable(h: Harness) {
    let s = &h.store;
    let mut ids: Vec<String> = (0..25).map(|i| format!("u-{:02}", (i * 7) % 25)).collect();
    for id in &ids {
        s.create_user(&user(id, &format!("name-{id}")))
            .await
            .unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = s.list_users(Page { offset, limit: 10 }).await.unwrap();
        assert_eq!(page.total as usize, 25 + usize::from(offset > 0));
        if page.items.is_empty() {
            break;
        }
        seen.extend(page.items.iter().map(|u| u.id.clone()));
        if offset == 0 {
            // A record inserted behind the cursor must not shift later pages.
            s.create_user(&user("u-00a", "late")).await.unwrap();
            seen.push("u-00a".into());
        }
        offset += 10;
    }
    let mut expected = ids;
    expected.push("u-00a".into());
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), 26, "every user exactly once: {seen:?}");
    assert_eq!(unique.into_iter().collect::<Vec<_>>(), {
        expected.sort();
        expected
    });
    let first = s
        .list_users(Page {
            offset: 0,
            limit: 3,
        })
        .await
        .unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|u| u.id.as_str())
            .collect::<Vec<_>>(),
        ["u-00", "u-00a", "u-01"]
    );
    assert!(
        s.list_users(Page {
            offset: 100,
            limit: 10
        })
        .await
        .unwrap()
        .items
        .is_empty()
    );
}

pub async fn groups_and_members(h: Harness) {
    let s = &h.store;
    s.create_group(&group("g-2", &["u-1"])).await.unwrap();
    s.create_group(&group("g-1", &["u-1", "u-2"]))
        .await
        .unwrap();
    assert_conflict(s.create_group(&group("g-1", &[])).await, Conflict::Exists);
    let with_u1: Vec<_> = s
        .groups_with_member("u-1")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(with_u1, ["g-1", "g-2"]);
    let page = s
        .list_groups(Page {
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].id, "g-1");

    let read = s.get_group("g-1").await.unwrap();
    let mut changed = read.clone();
    changed.members = vec![GroupMember {
        value: "g-2".into(),
        kind: MemberKind::Group,
    }];
    let stored = s.update_group(&changed).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_conflict(h.other.update_group(&read).await, Conflict::Version);
    assert_eq!(s.groups_with_member("u-2").await.unwrap(), vec![]);
    assert_eq!(s.groups_with_member("g-2").await.unwrap()[0].id, "g-1");

    s.delete_group("g-1").await.unwrap();
    assert_not_found(s.get_group("g-1").await);
    assert_not_found(s.delete_group("g-1").await);
    assert!(s.groups_with_member("g-2").await.unwrap().is_empty());
}

pub async fn remove_member_everywhere(h: Harness) {
    let s = &h.store;
    s.create_group(&group("g-1", &["u-1", "u-2"]))
        .await
        .unwrap();
    s.create_group(&group("g-2", &["u-1"])).await.unwrap();
    s.create_group(&group("g-3", &["u-2"])).await.unwrap();
    assert_eq!(s.remove_member_everywhere("u-1").await.unwrap(), 2);
    let g1 = s.get_group("g-1").await.unwrap();
    assert_eq!(
        g1.members,
        vec![GroupMember {
            value: "u-2".into(),
            kind: MemberKind::User
        }]
    );
    assert_eq!(g1.version, 2);
    assert!(s.get_group("g-2").await.unwrap().members.is_empty());
    assert_eq!(s.get_group("g-3").await.unwrap().version, 1);
    assert!(s.groups_with_member("u-1").await.unwrap().is_empty());
    assert_eq!(s.remove_member_everywhere("u-1").await.unwrap(), 0);
}

pub async fn codes_single_use(h: Harness) {
    let s = &h.store;
    let c = code("h1", T0 + 60);
    s.insert_code(&c).await.unwrap();
    assert_conflict(s.insert_code(&c).await, Conflict::Exists);
    assert_eq!(s.take_code("h1").await.unwrap(), CodeTake::Fresh(c.clone()));
    assert_eq!(
        h.other.take_code("h1").await.unwrap(),
        CodeTake::AlreadyUsed(c.clone())
    );
    assert_eq!(s.take_code("h1").await.unwrap(), CodeTake::AlreadyUsed(c));
    assert_not_found(s.take_code("unknown").await);
}

pub async fn codes_expire(h: Harness) {
    let s = &h.store;
    s.insert_code(&code("h1", T0 + 60)).await.unwrap();
    s.insert_code(&code("h2", T0 + 60)).await.unwrap();
    s.take_code("h2").await.unwrap();
    h.clock.advance(60);
    // Expired means absent: neither fresh nor "already used".
    assert_not_found(s.take_code("h1").await);
    assert_not_found(s.take_code("h2").await);
    // And an expired hash may be reused.
    s.insert_code(&code("h1", T0 + 120)).await.unwrap();
    assert!(matches!(
        s.take_code("h1").await.unwrap(),
        CodeTake::Fresh(_)
    ));
}

pub async fn concurrent_code_takes_have_one_winner(h: Harness) {
    h.store.insert_code(&code("race", T0 + 60)).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.take_code("race").await })
        })
        .collect();
    let (mut fresh, mut used) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            CodeTake::Fresh(_) => fresh += 1,
            CodeTake::AlreadyUsed(_) => used += 1,
        }
    }
    assert_eq!((fresh, used), (1, 31));
}

pub async fn refresh_rotation_and_reuse(h: Harness) {
    let s = &h.store;
    s.create_family(&family("f1", T0), "rt0").await.unwrap();
    assert_conflict(
        s.create_family(&family("f2", T0), "rt0").await,
        Conflict::Exists,
    );
    assert_not_found(s.get_current_family("rt0-unknown").await);
    assert_eq!(s.get_current_family("rt0").await.unwrap().id, "f1");
    h.clock.advance(10);
    let Rotation::Rotated(rotated) = s
        .rotate_refresh_token("rt0", "rt1", T0 + 10 + 3_600, 0)
        .await
        .unwrap()
    else {
        panic!("first rotation must succeed")
    };
    assert_eq!(
        (rotated.rotated_at, rotated.idle_expires_at),
        (T0 + 10, T0 + 3_610)
    );
    assert_not_found(s.get_current_family("rt0").await);
    assert_eq!(h.other.get_current_family("rt1").await.unwrap(), rotated);
    let Rotation::Rotated(_) = h
        .other
        .rotate_refresh_token("rt1", "rt2", T0 + 3_600, 0)
        .await
        .unwrap()
    else {
        panic!("second rotation must succeed")
    };
    // rt0 is two generations old: reuse, and the family is revoked.
    match s
        .rotate_refresh_token("rt0", "rt9", T0 + 3_600, 30)
        .await
        .unwrap()
    {
        Rotation::ReuseDetected(f) => assert!(f.revoked),
        other => panic!("expected reuse, got {other:?}"),
    }
    assert_not_found(s.get_current_family("rt2").await);
    assert_not_found(s.rotate_refresh_token("rt2", "rt3", T0 + 3_600, 0).await);
    assert_not_found(s.revoke_family("f1").await);
    assert_not_found(s.rotate_refresh_token("nope", "x", T0 + 3_600, 0).await);
}

pub async fn refresh_grace_window(h: Harness) {
    let s = &h.store;
    s.create_family(&family("f1", T0), "rt0").await.unwrap();
    assert!(matches!(
        s.rotate_refresh_token("rt0", "rt1", T0 + 3_600, 5)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    h.clock.advance(4);
    // A concurrent refresh of rt0 within the grace window changes nothing.
    assert!(matches!(
        s.rotate_refresh_token("rt0", "rtx", T0 + 3_600, 5)
            .await
            .unwrap(),
        Rotation::WithinGrace(_)
    ));
    assert_eq!(s.get_current_family("rt1").await.unwrap().id, "f1");
    assert_not_found(s.get_current_family("rtx").await);
    h.clock.advance(1);
    assert!(matches!(
        s.rotate_refresh_token("rt0", "rty", T0 + 3_600, 5)
            .await
            .unwrap(),
        Rotation::ReuseDetected(_)
    ));
    assert_not_found(s.get_current_family("rt1").await);
}

pub async fn concurrent_rotations_have_one_winner(h: Harness) {
    h.store
        .create_family(&family("f1", T0), "rt0")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move {
                s.rotate_refresh_token("rt0", &format!("new-{i}"), T0 + 3_600, 0)
                    .await
            })
        })
        .collect();
    let (mut rotated, mut reuse) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(Rotation::Rotated(_)) => rotated += 1,
            Ok(Rotation::ReuseDetected(_)) => reuse += 1,
            // Once revoked by a detected reuse, the family is absent.
            Err(Error::NotFound) => reuse += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    assert_eq!(reuse, 31);
    // The reuse revoked the family: the winner's token is dead too.
    for i in 0..32 {
        assert_not_found(h.store.get_current_family(&format!("new-{i}")).await);
    }
}

pub async fn refresh_expiry(h: Harness) {
    let s = &h.store;
    s.create_family(&family("f1", T0), "a0").await.unwrap();
    // Idle expiry: unused for an hour.
    h.clock.advance(3_600);
    assert_not_found(s.get_current_family("a0").await);
    assert_not_found(s.rotate_refresh_token("a0", "a1", T0 + 7_200, 0).await);
    // Absolute expiry: rotation never extends past it.
    s.create_family(&family("f2", T0 + 3_600), "b0")
        .await
        .unwrap();
    let mut now = T0 + 3_600;
    for i in 0..30 {
        h.clock.advance(3_000);
        now += 3_000;
        let presented = format!("b{i}");
        let next = format!("b{}", i + 1);
        match s
            .rotate_refresh_token(&presented, &next, now + 3_600, 0)
            .await
        {
            Ok(Rotation::Rotated(f)) => assert!(f.idle_expires_at <= f.expires_at),
            Err(Error::NotFound) => {
                assert!(now >= T0 + 3_600 + 86_400, "family died early at {now}");
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the family outlived its absolute lifetime");
}

pub async fn revoke_families_for_user(h: Harness) {
    let s = &h.store;
    s.create_family(&family("f1", T0), "a0").await.unwrap();
    s.create_family(&family("f2", T0), "b0").await.unwrap();
    let mut other_user = family("f3", T0);
    other_user.user_id = Some("u2".into());
    s.create_family(&other_user, "c0").await.unwrap();
    let mut other_session = family("f4", T0);
    other_session.session_id = Some("sid-2".into());
    s.create_family(&other_session, "d0").await.unwrap();
    let mut this_session = family("f5", T0);
    this_session.session_id = Some("sid-1".into());
    s.create_family(&this_session, "e0").await.unwrap();
    // Logging out of one session ends only that session's families.
    assert_eq!(
        s.revoke_families_for_user("u1", Some("sid-1"))
            .await
            .unwrap(),
        1
    );
    assert_not_found(s.get_current_family("e0").await);
    assert_eq!(s.get_current_family("d0").await.unwrap().id, "f4");
    assert_eq!(s.revoke_families_for_user("u1", None).await.unwrap(), 3);
    assert_not_found(s.get_current_family("a0").await);
    assert_not_found(s.get_current_family("b0").await);
    assert_eq!(s.get_current_family("c0").await.unwrap().id, "f3");
    assert_eq!(s.revoke_families_for_user("u1", None).await.unwrap(), 0);
    s.revoke_family("f3").await.unwrap();
    assert_not_found(s.get_current_family("c0").await);
}

pub async fn sessions(h: Harness) {
    let s = &h.store;
    s.put_session(&session("s1", "u1", T0)).await.unwrap();
    s.put_session(&session("s2", "u1", T0)).await.unwrap();
    s.put_session(&session("s3", "u2", T0)).await.unwrap();
    assert_eq!(
        h.other.get_session("s1").await.unwrap(),
        session("s1", "u1", T0)
    );
    // Idle timeout moves with use, never past the absolute timeout.
    h.clock.advance(500);
    s.touch_session("s1", T0 + 500 + 600).await.unwrap();
    h.clock.advance(200);
    assert_not_found(s.get_session("s2").await);
    assert_eq!(
        s.get_session("s1").await.unwrap().idle_expires_at,
        T0 + 1_100
    );
    s.touch_session("s1", T0 + 99_999).await.unwrap();
    assert_eq!(
        s.get_session("s1").await.unwrap().idle_expires_at,
        T0 + 3_600
    );
    h.clock.advance(2_900);
    assert_not_found(s.get_session("s1").await);
    assert_not_found(s.touch_session("s1", T0 + 99_999).await);
    // Ending a user's sessions.
    let now = T0 + 3_600;
    s.put_session(&session("s4", "u1", now)).await.unwrap();
    s.put_session(&session("s5", "u1", now)).await.unwrap();
    s.put_session(&session("s6", "u2", now)).await.unwrap();
    assert!(s.delete_sessions_for_user("u1").await.unwrap() >= 2);
    assert_not_found(s.get_session("s4").await);
    assert_eq!(s.get_session("s6").await.unwrap().user_id, "u2");
    s.delete_session("s6").await.unwrap();
    s.delete_session("s6").await.unwrap();
    assert_not_found(s.get_session("s6").await);
}

pub async fn consents(h: Harness) {
    let s = &h.store;
    let consent = |client: &str, scopes: &[&str]| Consent {
        user_id: "u1".into(),
        client_id: client.into(),
        scopes: scopes.iter().map(|x| (*x).into()).collect(),
        granted_at: T0,
    };
    s.put_consent(&consent("c2", &["openid"])).await.unwrap();
    s.put_consent(&consent("c1", &["openid"])).await.unwrap();
    s.put_consent(&consent("c1", &["openid", "email"]))
        .await
        .unwrap();
    assert_eq!(
        s.get_consent("u1", "c1").await.unwrap(),
        consent("c1", &["openid", "email"])
    );
    let clients: Vec<_> = s
        .list_consents("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(clients, ["c1", "c2"]);
    assert!(s.list_consents("u2").await.unwrap().is_empty());
    s.delete_consent("u1", "c1").await.unwrap();
    s.delete_consent("u1", "c1").await.unwrap();
    assert_not_found(s.get_consent("u1", "c1").await);
}

pub async fn revoked_token_ids(h: Harness) {
    let s = &h.store;
    assert!(!s.is_token_id_revoked("jti-1").await.unwrap());
    s.revoke_token_id("jti-1", T0 + 300).await.unwrap();
    s.revoke_token_id("jti-1", T0 + 300).await.unwrap();
    assert!(h.other.is_token_id_revoked("jti-1").await.unwrap());
    h.clock.advance(300);
    assert!(!s.is_token_id_revoked("jti-1").await.unwrap());
}

pub async fn signing_keys(h: Harness) {
    let s = &h.store;
    let key = |kid: &str, created_at: i64| SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        state: KeyState::Pending,
        private_sealed: "c2VhbGVk".into(),
        public_jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid}),
        created_at,
        activates_at: created_at + 3_600,
        retired_at: None,
        remove_at: None,
        keep_until: None,
        version: 1,
    };
    s.insert_key(&key("k2", T0 + 1)).await.unwrap();
    s.insert_key(&key("k1", T0)).await.unwrap();
    assert_conflict(s.insert_key(&key("k1", T0)).await, Conflict::Exists);
    let kids: Vec<_> = s
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k1", "k2"]);
    let read = s.get_key("k1").await.unwrap();
    let mut active = read.clone();
    active.state = KeyState::Active;
    assert_eq!(s.update_key(&active).await.unwrap().version, 2);
    assert_conflict(h.other.update_key(&read).await, Conflict::Version);
    assert_eq!(s.get_key("k1").await.unwrap().state, KeyState::Active);
    s.delete_key("k1").await.unwrap();
    assert_not_found(s.get_key("k1").await);
    assert_not_found(s.delete_key("k1").await);
}

pub async fn counters_and_leases(h: Harness) {
    let s = &h.store;
    assert_eq!(s.get_counter("login:alice").await.unwrap(), 0);
    assert_eq!(s.increment("login:alice", 1, 60).await.unwrap(), 1);
    h.clock.advance(30);
    assert_eq!(s.increment("login:alice", 2, 60).await.unwrap(), 3);
    // The window started at the first increment and does not slide.
    h.clock.advance(30);
    assert_eq!(s.get_counter("login:alice").await.unwrap(), 0);
    assert_eq!(s.increment("login:alice", 1, 60).await.unwrap(), 1);
    s.reset_counter("login:alice").await.unwrap();
    assert_eq!(s.get_counter("login:alice").await.unwrap(), 0);

    assert!(s.acquire_lease("rotation", "replica-a", 30).await.unwrap());
    assert!(
        !h.other
            .acquire_lease("rotation", "replica-b", 30)
            .await
            .unwrap()
    );
    assert!(s.acquire_lease("rotation", "replica-a", 30).await.unwrap());
    h.clock.advance(30);
    assert!(
        h.other
            .acquire_lease("rotation", "replica-b", 30)
            .await
            .unwrap()
    );
    assert!(!s.acquire_lease("rotation", "replica-a", 30).await.unwrap());
}

pub async fn rate_limits_are_shared(h: Harness) {
    // A burst of 3, then one a second, across both handles.
    let mut admitted = 0;
    for i in 0..6 {
        let s = if i % 2 == 0 { &h.store } else { &h.other };
        let decision = s.rate_limit("login:ip:10.0.0.1", 1000, 3, 1).await.unwrap();
        if decision.allowed {
            admitted += 1;
        } else {
            assert_eq!(decision.retry_after_ms, 1000);
        }
    }
    assert_eq!(admitted, 3);
    // Another key is not affected.
    assert!(
        h.store
            .rate_limit("login:ip:10.0.0.2", 1000, 3, 1)
            .await
            .unwrap()
            .allowed
    );
    h.clock.advance(1);
    assert!(
        h.other
            .rate_limit("login:ip:10.0.0.1", 1000, 3, 1)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !h.store
            .rate_limit("login:ip:10.0.0.1", 1000, 3, 1)
            .await
            .unwrap()
            .allowed
    );
    // Quiet long enough, the whole burst is back.
    h.clock.advance(60);
    for _ in 0..3 {
        assert!(
            h.store
                .rate_limit("login:ip:10.0.0.1", 1000, 3, 1)
                .await
                .unwrap()
                .allowed
        );
    }
}

pub async fn concurrent_rate_limited_requests_admit_the_burst(h: Harness) {
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.rate_limit("token:client:c1", 60_000, 5, 1).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().allowed {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
}

fn backoff() -> crate::BackoffPolicy {
    crate::BackoffPolicy {
        threshold: 3,
        base_delay: 60,
        max_delay: 300,
        quiet_period: 600,
    }
}

pub async fn attempts_back_off(h: Harness) {
    use crate::{Attempt, AttemptState};
    let (s, policy) = (&h.store, backoff());
    for n in 1..=3 {
        assert_eq!(
            s.register_attempt("user:u-1", &policy).await.unwrap(),
            Attempt::Allowed { failures: n }
        );
    }
    let locked_until = T0 + 60;
    assert_eq!(
        h.other.register_attempt("user:u-1", &policy).await.unwrap(),
        Attempt::Locked {
            until: locked_until
        }
    );
    assert_eq!(
        s.attempt_state("user:u-1").await.unwrap(),
        AttemptState {
            failures: 3,
            locked_until
        }
    );
    h.clock.advance(60);
    assert_eq!(
        s.register_attempt("user:u-1", &policy).await.unwrap(),
        Attempt::Allowed { failures: 4 }
    );
    assert_eq!(
        s.attempt_state("user:u-1").await.unwrap().locked_until,
        T0 + 60 + 120
    );
    // An administrator (or a success) clears it.
    s.clear_attempts("user:u-1").await.unwrap();
    assert_eq!(
        s.attempt_state("user:u-1").await.unwrap(),
        AttemptState::default()
    );
    // A quiet period forgets the failures.
    s.register_attempt("user:u-2", &policy).await.unwrap();
    h.clock.advance(601);
    assert_eq!(
        s.attempt_state("user:u-2").await.unwrap(),
        AttemptState::default()
    );
    assert_eq!(
        s.register_attempt("user:u-2", &policy).await.unwrap(),
        Attempt::Allowed { failures: 1 }
    );
}

pub async fn concurrent_attempts_get_exactly_the_threshold(h: Harness) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.register_attempt("user:victim", &backoff()).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if matches!(task.await.unwrap().unwrap(), crate::Attempt::Allowed { .. }) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3, "exactly the threshold of password checks");
}

pub async fn concurrent_increments_from_two_handles_sum_exactly(h: Harness) {
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { s.increment("rl:ip:127.0.0.1", 1, 60).await })
        })
        .collect();
    let mut values = BTreeSet::new();
    for task in tasks {
        values.insert(task.await.unwrap().unwrap());
    }
    // Every increment saw a distinct value: none was lost or doubled.
    assert_eq!(values, (1..=1000).collect());
    assert_eq!(h.store.get_counter("rl:ip:127.0.0.1").await.unwrap(), 1000);
}

pub async fn purge_keeps_live_records(h: Harness) {
    let s = &h.store;
    s.insert_code(&code("old", T0 + 10)).await.unwrap();
    s.insert_code(&code("new", T0 + 100)).await.unwrap();
    s.put_session(&session("s1", "u1", T0)).await.unwrap();
    s.increment("c", 1, 10).await.unwrap();
    h.clock.advance(50);
    s.purge_expired().await.unwrap();
    assert_not_found(s.take_code("old").await);
    assert!(matches!(
        s.take_code("new").await.unwrap(),
        CodeTake::Fresh(_)
    ));
    assert_eq!(s.get_session("s1").await.unwrap().user_id, "u1");
    assert_eq!(s.get_counter("c").await.unwrap(), 0);
}

fn device(device_code: &str, user_code: &str, expires_at: i64) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code_hash: device_code.into(),
        user_code_hash: user_code.into(),
        client_id: "tv".into(),
        scope: "openid profile".into(),
        resources: vec!["https://api.example/orders".into()],
        created_at: T0,
        expires_at,
        interval: 5,
    }
}

fn approved() -> DeviceDecision {
    DeviceDecision::Approved {
        user_id: "u-1".into(),
        grant: GrantContext {
            auth_time: Some(T0),
            sid: Some("sid-1".into()),
            amr: vec!["pwd".into(), "otp".into()],
            ..GrantContext::default()
        },
    }
}

pub async fn device_authorization_lifecycle(h: Harness) {
    let (s, o) = (&h.store, &h.other);
    let d = device("dc-1", "uc-1", T0 + 600);
    s.insert_device_authorization(&d).await.unwrap();
    assert_eq!(o.get_device_authorization("uc-1").await.unwrap(), d);
    assert_not_found(s.get_device_authorization("uc-2").await);
    assert_not_found(s.poll_device_authorization("dc-2", 5).await);
    assert_eq!(
        s.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::Pending
    );
    // Too soon, from either replica: the interval grows, and stays grown.
    h.clock.advance(4);
    assert_eq!(
        o.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::SlowDown(10)
    );
    h.clock.advance(9);
    assert_eq!(
        s.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::SlowDown(15)
    );
    h.clock.advance(15);
    assert_eq!(
        s.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::Pending
    );
    // Decided once: the user code is spent.
    o.decide_device_authorization("uc-1", &approved())
        .await
        .unwrap();
    assert_not_found(s.get_device_authorization("uc-1").await);
    assert_not_found(
        s.decide_device_authorization("uc-1", &DeviceDecision::Denied)
            .await,
    );
    // Even a decision waits for the interval; then one poll gets it.
    assert_eq!(
        s.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::SlowDown(20)
    );
    h.clock.advance(20);
    assert_eq!(
        o.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::Decided(d.clone(), Box::new(approved()))
    );
    h.clock.advance(20);
    assert_eq!(
        s.poll_device_authorization("dc-1", 5).await.unwrap(),
        DevicePoll::AlreadyUsed
    );
    // A denial reaches the device the same way.
    s.insert_device_authorization(&device("dc-2", "uc-2", T0 + 600))
        .await
        .unwrap();
    s.decide_device_authorization("uc-2", &DeviceDecision::Denied)
        .await
        .unwrap();
    assert!(matches!(
        s.poll_device_authorization("dc-2", 5).await.unwrap(),
        DevicePoll::Decided(_, decision) if *decision == DeviceDecision::Denied
    ));
    // Expired: nothing answers, and purging removes it.
    s.insert_device_authorization(&device("dc-3", "uc-3", T0 + 100))
        .await
        .unwrap();
    h.clock.advance(100);
    assert_not_found(s.get_device_authorization("uc-3").await);
    assert_not_found(s.poll_device_authorization("dc-3", 5).await);
    assert_not_found(
        s.decide_device_authorization("uc-3", &DeviceDecision::Denied)
            .await,
    );
    s.purge_expired().await.unwrap();
    assert_not_found(s.poll_device_authorization("dc-3", 5).await);
}

pub async fn device_user_codes_unique_while_undecided(h: Harness) {
    let (s, o) = (&h.store, &h.other);
    s.insert_device_authorization(&device("dc-1", "uc-1", T0 + 600))
        .await
        .unwrap();
    assert_conflict(
        o.insert_device_authorization(&device("dc-2", "uc-1", T0 + 600))
            .await,
        Conflict::Exists,
    );
    assert_conflict(
        o.insert_device_authorization(&device("dc-1", "uc-9", T0 + 600))
            .await,
        Conflict::Exists,
    );
    // The refused one was not stored.
    assert_not_found(s.poll_device_authorization("dc-2", 5).await);
    assert_eq!(
        s.get_device_authorization("uc-1")
            .await
            .unwrap()
            .device_code_hash,
        "dc-1"
    );
    // Once decided, or expired, the user code may be drawn again.
    s.decide_device_authorization("uc-1", &DeviceDecision::Denied)
        .await
        .unwrap();
    o.insert_device_authorization(&device("dc-2", "uc-1", T0 + 600))
        .await
        .unwrap();
    assert_eq!(
        s.get_device_authorization("uc-1")
            .await
            .unwrap()
            .device_code_hash,
        "dc-2"
    );
    s.insert_device_authorization(&device("dc-3", "uc-3", T0 + 100))
        .await
        .unwrap();
    h.clock.advance(100);
    o.insert_device_authorization(&device("dc-4", "uc-3", T0 + 700))
        .await
        .unwrap();
    assert_eq!(
        s.get_device_authorization("uc-3")
            .await
            .unwrap()
            .device_code_hash,
        "dc-4"
    );
    s.purge_expired().await.unwrap();
    assert_eq!(
        s.get_device_authorization("uc-3")
            .await
            .unwrap()
            .device_code_hash,
        "dc-4"
    );
    assert_eq!(
        s.poll_device_authorization("dc-2", 5).await.unwrap(),
        DevicePoll::Pending
    );
}

impl Won for DevicePoll {
    fn won(&self) -> bool {
        matches!(self, DevicePoll::Decided(..))
    }
}

pub async fn concurrent_device_decisions_and_polls_have_one_winner(h: Harness) {
    h.store
        .insert_device_authorization(&device("dc-1", "uc-1", T0 + 600))
        .await
        .unwrap();
    let won = winners(&h, |store| async move {
        store.decide_device_authorization("uc-1", &approved()).await
    })
    .await;
    assert_eq!(won, 1);
    let won = winners(&h, |store| async move {
        store.poll_device_authorization("dc-1", 5).await
    })
    .await;
    assert_eq!(won, 1);
}

fn session_client(user_id: &str, sid: &str, client_id: &str, expires_at: i64) -> SessionClient {
    SessionClient {
        user_id: user_id.into(),
        sid: sid.into(),
        client_id: client_id.into(),
        expires_at,
    }
}

pub async fn session_clients(h: Harness) {
    let (s, o) = (&h.store, &h.other);
    let a = session_client("u-1", "sid-1", "c-1", T0 + 100);
    let b = session_client("u-1", "sid-1", "https://rp.example/c 2", T0 + 200);
    let c = session_client("u-1", "sid-2", "c-1", T0 + 50);
    for entry in [&c, &b, &a, &session_client("u-2", "sid-3", "c-1", T0 + 100)] {
        s.record_session_client(entry).await.unwrap();
    }
    // Recording again keeps the later expiry.
    s.record_session_client(&session_client("u-1", "sid-1", "c-1", T0 + 10))
        .await
        .unwrap();
    assert_eq!(
        o.session_clients("u-1").await.unwrap(),
        [a.clone(), b.clone(), c.clone()]
    );
    assert!(o.session_clients("u-3").await.unwrap().is_empty());
    // Exactly what is named is forgotten, again and again.
    for _ in 0..2 {
        o.forget_session_clients("u-1", std::slice::from_ref(&a))
            .await
            .unwrap();
        assert_eq!(
            s.session_clients("u-1").await.unwrap(),
            [b.clone(), c.clone()]
        );
    }
    s.forget_session_clients("u-1", &[]).await.unwrap();
    // Expired means absent.
    h.clock.advance(50);
    assert_eq!(
        s.session_clients("u-1").await.unwrap(),
        std::slice::from_ref(&b)
    );
    assert_eq!(s.session_clients("u-2").await.unwrap().len(), 1);
    s.record_session_client(&session_client("u-1", "sid-4", "c-1", T0 + 10))
        .await
        .unwrap();
    assert_eq!(s.session_clients("u-1").await.unwrap(), [b]);
}

fn notice(id: &str, due_at: i64) -> LogoutNotice {
    LogoutNotice {
        id: id.into(),
        client_id: "c-1".into(),
        user_id: "u-1".into(),
        sid: Some("sid-1".into()),
        attempts: 0,
        due_at,
        queued_at: T0,
    }
}

fn ids(notices: &[LogoutNotice]) -> Vec<&str> {
    notices.iter().map(|n| n.id.as_str()).collect()
}

pub async fn logout_notice_queue(h: Harness) {
    let (s, o) = (&h.store, &h.other);
    assert!(s.lease_logout_notices(10, 30).await.unwrap().is_empty());
    let first = notice("n-1", T0);
    let mut second = notice("n-2", T0 + 10);
    second.sid = None;
    s.queue_logout_notices(&[first.clone(), second.clone()])
        .await
        .unwrap();
    // Queuing a notice again leaves the queued one as it is.
    let mut again = first.clone();
    again.attempts = 7;
    o.queue_logout_notices(&[again]).await.unwrap();
    assert_eq!(
        o.lease_logout_notices(10, 30).await.unwrap(),
        std::slice::from_ref(&first)
    );
    // Leased: no one else gets it until the lease runs out.
    assert!(s.lease_logout_notices(10, 30).await.unwrap().is_empty());
    h.clock.advance(10);
    assert_eq!(
        s.lease_logout_notices(10, 30).await.unwrap(),
        [second.clone()]
    );
    assert!(o.lease_logout_notices(10, 30).await.unwrap().is_empty());
    // The first leaseholder "died": its notice is due again.
    h.clock.advance(20);
    assert_eq!(ids(&o.lease_logout_notices(10, 30).await.unwrap()), ["n-1"]);
    // A failed delivery: tried again later, with its count.
    let mut failed = first.clone();
    failed.attempts = 1;
    failed.due_at = T0 + 100;
    s.reschedule_logout_notice(&failed).await.unwrap();
    assert!(s.lease_logout_notices(10, 30).await.unwrap().is_empty());
    h.clock.advance(70);
    // By then the second one's lease has run out too.
    let leased = o.lease_logout_notices(10, 30).await.unwrap();
    assert_eq!(ids(&leased), ["n-2", "n-1"]);
    assert_eq!(leased[1], failed);
    // Delivered: gone, and removing it again is fine.
    s.remove_logout_notice("n-1").await.unwrap();
    s.remove_logout_notice("n-1").await.unwrap();
    assert_not_found(o.reschedule_logout_notice(&first).await);
    h.clock.advance(1000);
    assert_eq!(ids(&s.lease_logout_notices(10, 30).await.unwrap()), ["n-2"]);
    o.remove_logout_notice("n-2").await.unwrap();
    h.clock.advance(1000);
    assert!(s.lease_logout_notices(10, 30).await.unwrap().is_empty());
    // Earliest due first, and no more than asked for.
    let batch: Vec<_> = (0..5)
        .map(|i| notice(&format!("b-{i}"), T0 + 2100 - i))
        .collect();
    s.queue_logout_notices(&batch).await.unwrap();
    assert_eq!(
        ids(&o.lease_logout_notices(3, 30).await.unwrap()),
        ["b-4", "b-3", "b-2"]
    );
    assert_eq!(
        ids(&s.lease_logout_notices(3, 30).await.unwrap()),
        ["b-1", "b-0"]
    );
}

pub async fn concurrent_leases_hand_each_notice_to_one(h: Harness) {
    let batch: Vec<_> = (0..40).map(|i| notice(&format!("n-{i:02}"), T0)).collect();
    h.store.queue_logout_notices(&batch).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move { store.lease_logout_notices(4, 30).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap().into_iter().map(|n| n.id));
    }
    let distinct: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "a notice went to two callers");
    assert_eq!(distinct.len(), 40);
}

fn audit(at: i64, n: usize) -> AuditEntry {
    AuditEntry {
        at,
        data: json!({"event": "e", "n": n}).to_string(),
    }
}

fn numbers(events: &[crate::AuditEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

pub async fn audit_trail_in_append_order(h: Harness) {
    let (s, o) = (&h.store, &h.other);
    assert!(s.audit_after(None, 10).await.unwrap().is_empty());
    assert!(s.audit_before(None, 10).await.unwrap().is_empty());
    s.append_audit(&[]).await.unwrap();
    s.append_audit(&[audit(T0, 0), audit(T0, 1)]).await.unwrap();
    o.append_audit(&[audit(T0 + 5, 2)]).await.unwrap();
    s.append_audit(&(3..8).map(|n| audit(T0 + 10, n)).collect::<Vec<_>>())
        .await
        .unwrap();
    // Oldest first, paged by the last id seen; either handle.
    let first = o.audit_after(None, 3).await.unwrap();
    assert_eq!(numbers(&first), [0, 1, 2]);
    assert_eq!(first[2].at, T0 + 5);
    let rest = s.audit_after(Some(&first[2].id), 100).await.unwrap();
    assert_eq!(numbers(&rest), [3, 4, 5, 6, 7]);
    assert!(
        s.audit_after(Some(&rest[4].id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Newest first, likewise.
    let newest = s.audit_before(None, 2).await.unwrap();
    assert_eq!(numbers(&newest), [7, 6]);
    assert_eq!(
        numbers(&o.audit_before(Some(&newest[1].id), 3).await.unwrap()),
        [5, 4, 3]
    );
    assert_not_found(s.audit_after(Some("not an id"), 1).await);
    // Purged by age, oldest first and no more than asked; a purged id
    // still marks its place.
    assert_eq!(s.purge_audit(T0 + 10, 2).await.unwrap(), 2);
    assert_eq!(
        numbers(&o.audit_after(None, 10).await.unwrap()),
        [2, 3, 4, 5, 6, 7]
    );
    assert_eq!(o.purge_audit(T0 + 10, 100).await.unwrap(), 1);
    assert_eq!(s.purge_audit(T0 + 10, 100).await.unwrap(), 0);
    assert_eq!(
        numbers(&s.audit_after(Some(&first[0].id), 10).await.unwrap()),
        [3, 4, 5, 6, 7]
    );
    // Appended after a purge: still after everything before it.
    s.append_audit(&[audit(T0 + 20, 8)]).await.unwrap();
    assert_eq!(
        numbers(&o.audit_after(Some(&rest[4].id), 10).await.unwrap()),
        [8]
    );
    // A reader's saved position, shared by the handles.
    assert_eq!(s.audit_cursor("webhook").await.unwrap(), None);
    s.set_audit_cursor("webhook", &rest[1].id).await.unwrap();
    o.set_audit_cursor("other", &rest[0].id).await.unwrap();
    o.set_audit_cursor("webhook", &rest[2].id).await.unwrap();
    assert_eq!(
        s.audit_cursor("webhook").await.unwrap(),
        Some(rest[2].id.clone())
    );
    assert_eq!(
        s.audit_cursor("other").await.unwrap(),
        Some(rest[0].id.clone())
    );
}

pub async fn concurrent_appends_keep_every_event_once(h: Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                Arc::clone(&h.store)
            } else {
                Arc::clone(&h.other)
            };
            tokio::spawn(async move {
                for round in 0..5 {
                    let batch: Vec<_> = (0..4)
                        .map(|k| audit(T0, i * 100 + round * 10 + k))
                        .collect();
                    store.append_audit(&batch).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = h.store.audit_after(after.as_deref(), 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        seen.extend(numbers(&page));
    }
    assert_eq!(seen.len(), 160);
    let distinct: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 160, "an event was kept twice");
    // Each writer's batches keep their order within the trail.
    for i in 0..8u64 {
        let own: Vec<_> = seen.iter().copied().filter(|n| n / 100 == i).collect();
        let mut sorted = own.clone();
        sorted.sort_unstable();
        assert_eq!(own, sorted, "writer {i}'s events out of order");
    }
}

#[cfg(test)]
mod registration {
    /// Every case written here is registered in `conformance_tests!`, so no
    /// case can be written and never run on a backend.
    #[test]
    fn every_case_is_registered() {
        let source = include_str!("conformance.rs");
        let (registered, cases) = source
            .split_once("(@cases $factory:path;")
            .map(|(head, _)| head)
            .and_then(|head| head.rsplit_once("$crate::conformance_tests!(@cases $factory;"))
            .map(|(_, list)| list)
            .zip(Some(source))
            .expect("the macro's case list");
        let registered: Vec<&str> = registered
            .split(')')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect();
        let written: Vec<&str> = cases
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter(|rest| rest.contains("(h: Harness)"))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        assert!(!written.is_empty());
        for case in &written {
            assert!(
                registered.contains(case),
                "{case} is never run: add it to conformance_tests!"
            );
        }
        for case in &registered {
            assert!(
                written.contains(case),
                "{case} is registered but not written"
            );
        }
    }
}
