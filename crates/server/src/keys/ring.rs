//! The key ring: every replica's in-memory view of the signing keys, kept
//! in step with the store, and this key lifecycle:
//!
//! pending (in the JWKS, not signing) → active (signing) → retired (in the
//! JWKS until every token it signed has expired) → removed.
//!
//! Which key signs is decided by time, not by a flag: for each algorithm the
//! key with the latest `activates_at` not after now. Every replica therefore
//! switches at the same instant, within its refresh interval of learning of
//! the key. The `state` field follows (any replica may write it, by
//! compare-and-swap) so operators see it in `keys list`.
//!
//! Rotation: a new key is created `publish_lead` before it must sign, so
//! relying parties that cache the JWKS (`Cache-Control: max-age`) have it
//! before any token does. Creation is guarded by a lease in the store, so
//! with many replicas exactly one creates it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use store::{Clock, Conflict, Error as StoreError, KeyState, SigningKey, Store};

use super::MasterKey;
use super::material::{self, Alg, KeyError, Signer};

/// How keys rotate and how long they stay published.
#[derive(Debug, Clone, Copy)]
pub struct KeySettings {
    /// Age at which an active key is replaced.
    pub rotation_interval: i64,
    /// How long a new key is published before it signs.
    pub publish_lead: i64,
    /// How long a retired key stays published: the longest lifetime of a
    /// token it may have signed, plus clock skew.
    pub retain_after_retirement: i64,
    /// How often the ring reloads from the store.
    pub refresh_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// One snapshot of the keys.
#[derive(Default)]
struct Ring {
    records: Vec<SigningKey>,
    signers: HashMap<String, Arc<Signer>>,
    verifiers: HashMap<String, (Alg, Arc<DecodingKey>)>,
    jwks: Arc<Value>,
}

/// The key ring shared by the handlers of one replica.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    settings: KeySettings,
    /// The lease holder name of this replica.
    replica: String,
    ring: RwLock<Arc<Ring>>,
    /// When an unknown `kid` last made this replica reload the ring.
    last_forced_reload: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("replica", &self.inner.replica)
            .finish_non_exhaustive()
    }
}

const LEASE: &str = "signing-key-rotation";
/// The least time between two reloads caused by unknown kids.
const FORCED_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
const LEASE_SECONDS: i64 = 30;

impl Keys {
    pub fn new(
        store: Arc<dyn Store>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        settings: KeySettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                master,
                clock,
                settings,
                replica: uuid::Uuid::new_v4().to_string(),
                ring: RwLock::new(Arc::new(Ring {
                    jwks: Arc::new(json!({"keys": []})),
                    ..Ring::default()
                })),
                last_forced_reload: std::sync::Mutex::new(None),
            }),
        }
    }

    fn ring(&self) -> Arc<Ring> {
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc inside is whole.
        match self.inner.ring.read() {
            Ok(ring) => Arc::clone(&ring),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The key that signs with `alg` now, if any.
    pub fn signer(&self, alg: Alg) -> Option<Arc<Signer>> {
        let ring = self.ring();
        let kid = current(&ring.records, alg, self.inner.clock.now())?
            .kid
            .clone();
        ring.signers.get(&kid).cloned()
    }

    /// The verification key for `kid`, with the one algorithm it may be used with.
    pub fn verifier(&self, kid: &str) -> Option<(Alg, Arc<DecodingKey>)> {
        self.ring().verifiers.get(kid).cloned()
    }

    /// The JWKS document (public parameters only).
    pub fn jwks(&self) -> Arc<Value> {
        Arc::clone(&self.ring().jwks)
    }

    /// Every key record as last loaded, oldest first.
    pub fn records(&self) -> Vec<SigningKey> {
        self.ring().records.clone()
    }

    /// Creates a new key for each algorithm, published now and signing after
    /// the publish lead (`auth-service keys rotate`).
    pub async fn rotate_now(&self) -> Result<Vec<SigningKey>, RingError> {
        let now = self.inner.clock.now();
        let mut created = Vec::new();
        for alg in Alg::ALL {
            created.push(
                self.create(
                    alg,
                    now,
                    now + self.inner.settings.publish_lead,
                    KeyState::Pending,
                )
                .await?,
            );
        }
        self.refresh().await?;
        Ok(created)
    }

    /// Keeps the key `kid` published at least until `until`: a long-lived
    /// token it signed must stay verifiable (compare-and-swap, retried).
    pub async fn keep_until(&self, kid: &str, until: i64) -> Result<(), RingError> {
        loop {
            let mut key = self.inner.store.get_key(kid).await?;
            if key.keep_until.is_some_and(|at| at >= until) {
                return Ok(());
            }
            key.keep_until = Some(until);
            match self.inner.store.update_key(&key).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict(Conflict::Version)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether every algorithm has a key that signs now: a replica is ready
    /// only then (two replicas starting at once on an empty store each create
    /// keys; until both are loaded one of them would sign what the other
    /// cannot yet verify).
    pub fn complete(&self) -> bool {
        let ring = self.ring();
        let now = self.inner.clock.now();
        Alg::ALL
            .into_iter()
            .all(|alg| current(&ring.records, alg, now).is_some())
    }

    /// Reloads the ring from the store because a token names `kid`, which
    /// this replica does not know (another replica may have just created
    /// it). At most once per [`FORCED_RELOAD_INTERVAL`], so a stream of
    /// forged kids cannot turn into a stream of store reads. Returns whether
    /// the kid is known afterwards.
    pub async fn reload_for_unknown_kid(&self, kid: &str) -> bool {
        {
            let Ok(mut last) = self.inner.last_forced_reload.lock() else {
                return false;
            };
            let now = std::time::Instant::now();
            if last.is_some_and(|at| now.duration_since(at) < FORCED_RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        let loaded = match self.inner.store.list_keys().await {
            Ok(records) => self.load(records, self.inner.clock.now()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = loaded {
            tracing::warn!(event = "signing_keys_refresh_failed", error = %e, "could not reload signing keys");
        }
        self.verifier(kid).is_some()
    }

    /// Emergency retirement: deletes `kid` from the store at once, whatever
    /// tokens it signed (they stop verifying on every replica within its
    /// refresh interval), and creates a replacement if it was the signing
    /// key of its algorithm. Returns the removed record.
    pub async fn retire_now(&self, kid: &str) -> Result<SigningKey, RingError> {
        let store = &self.inner.store;
        let record = store.get_key(kid).await?;
        let now = self.inner.clock.now();
        let records = store.list_keys().await?;
        if let Some(alg) = Alg::parse(&record.alg)
            && current(&records, alg, now).is_some_and(|k| k.kid == kid)
        {
            // The replacement signs at once: relying parties that cached the
            // JWKS fetch it again when they meet its unknown kid.
            self.create(alg, now, now, KeyState::Active).await?;
        }
        store.delete_key(kid).await?;
        tracing::warn!(
            category = "security",
            event = "signing_key_retired",
            kid = %kid,
            alg = %record.alg,
            outcome = "success",
            "signing key removed before its time; tokens it signed no longer verify"
        );
        self.refresh().await?;
        Ok(record)
    }

    /// Brings the store's keys through their lifecycle and reloads the ring.
    pub async fn refresh(&self) -> Result<(), RingError> {
        let store = &self.inner.store;
        let settings = self.inner.settings;
        let now = self.inner.clock.now();
        let mut records = store.list_keys().await?;

        // Bootstrap and scheduled rotation, under the lease.
        let any_due = Alg::ALL
            .into_iter()
            .any(|alg| due(&records, alg, now, settings).is_some());
        if any_due
            && store
                .acquire_lease(LEASE, &self.inner.replica, LEASE_SECONDS)
                .await?
        {
            // Another replica may have created keys between our read and the lease.
            records = store.list_keys().await?;
            for alg in Alg::ALL {
                if let Some((activates_at, state)) = due(&records, alg, now, settings) {
                    self.create(alg, now, activates_at, state).await?;
                }
            }
            records = store.list_keys().await?;
        }

        // State transitions; a lost compare-and-swap means another replica did it.
        for record in &records {
            let next = transition(&records, record, now, settings);
            let result = match next {
                Transition::Keep => Ok(()),
                Transition::Update(updated) => store.update_key(&updated).await.map(drop),
                Transition::Remove => store.delete_key(&record.kid).await,
            };
            match result {
                Ok(()) | Err(StoreError::Conflict(Conflict::Version) | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let records = store.list_keys().await?;
        self.load(records, now)?;
        Ok(())
    }

    async fn create(
        &self,
        alg: Alg,
        now: i64,
        activates_at: i64,
        state: KeyState,
    ) -> Result<SigningKey, RingError> {
        let kid = format!(
            "{}-{}",
            alg.as_str().to_lowercase(),
            uuid::Uuid::now_v7().simple()
        );
        let master = self.inner.master.clone();
        // RSA 3072 generation takes tens of milliseconds: off the async threads.
        let record = tokio::task::spawn_blocking(move || {
            material::generate(&master, alg, kid, now, activates_at, state)
        })
        .await
        .map_err(|e| KeyError {
            kid: String::new(),
            problem: e.to_string(),
        })??;
        self.inner.store.insert_key(&record).await?;
        tracing::info!(
            category = "security",
            event = "signing_key_rotated",
            kid = %record.kid,
            alg = %alg,
            activates_at = record.activates_at,
            outcome = "success",
            "signing key created"
        );
        Ok(record)
    }

    fn load(&self, records: Vec<SigningKey>, now: i64) -> Result<(), RingError> {
        let previous = self.ring();
        let mut signers = HashMap::new();
        let mut verifiers = HashMap::new();
        let mut published = Vec::new();
        for record in &records {
            let signer = match previous.signers.get(&record.kid) {
                Some(signer) => Arc::clone(signer),
                None => Arc::new(material::open(&self.inner.master, record)?),
            };
            let jwk = material::public_jwk(record);
            let decoding = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
                .ok()
                .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok())
                .ok_or_else(|| KeyError {
                    kid: record.kid.clone(),
                    problem: "unusable public JWK".into(),
                })?;
            verifiers.insert(record.kid.clone(), (signer.alg, Arc::new(decoding)));
            signers.insert(record.kid.clone(), signer);
            published.push(jwk);
        }
        for alg in Alg::ALL {
            if let Some(active) = current(&records, alg, now) {
                metrics::gauge!("auth_signing_key_age_seconds", "alg" => alg.as_str())
                    .set((now - active.activates_at).max(0) as f64);
            }
        }
        metrics::gauge!("auth_jwks_keys").set(published.len() as f64);
        let ring = Arc::new(Ring {
            records,
            signers,
            verifiers,
            jwks: Arc::new(json!({ "keys": published })),
        });
        match self.inner.ring.write() {
            Ok(mut slot) => *slot = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
        Ok(())
    }

    /// Refreshes now, then every refresh interval; failures are logged and
    /// the last good ring keeps serving.
    pub fn spawn_refresher(&self) -> tokio::task::JoinHandle<()> {
        let keys = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(keys.inner.settings.refresh_interval);
            loop {
                ticks.tick().await;
                if let Err(e) = keys.refresh().await {
                    tracing::warn!(event = "signing_keys_refresh_failed", error = %e, "could not refresh signing keys");
                }
            }
        })
    }
}

/// The key of `alg` that signs at `now`: the latest activation not after now.
fn current(records: &[SigningKey], alg: Alg, now: i64) -> Option<&SigningKey> {
    records
        .iter()
        .filter(|k| k.alg == alg.as_str() && k.activates_at <= now && k.state != KeyState::Retired)
        .max_by_key(|k| (k.activates_at, k.created_at))
}

/// Whether `alg` needs a new key: none at all (bootstrap, active at once:
/// nobody can have cached a JWKS yet), or the newest one is within the
/// publish lead of its rotation time.
fn due(
    records: &[SigningKey],
    alg: Alg,
    now: i64,
    settings: KeySettings,
) -> Option<(i64, KeyState)> {
    let newest = records
        .iter()
        .filter(|k| k.alg == alg.as_str())
        .max_by_key(|k| k.activates_at);
    match newest {
        None => Some((now, KeyState::Active)),
        Some(key) => {
            let rotate_at = key.activates_at + settings.rotation_interval;
            (now >= rotate_at - settings.publish_lead).then(|| {
                (
                    rotate_at.max(now + settings.publish_lead),
                    KeyState::Pending,
                )
            })
        }
    }
}

enum Transition {
    Keep,
    Update(Box<SigningKey>),
    Remove,
}

fn transition(
    records: &[SigningKey],
    record: &SigningKey,
    now: i64,
    settings: KeySettings,
) -> Transition {
    let Some(alg) = Alg::parse(&record.alg) else {
        return Transition::Keep;
    };
    let signing = current(records, alg, now).map(|k| k.kid.as_str());
    let mut next = record.clone();
    match record.state {
        KeyState::Pending | KeyState::Active if signing == Some(record.kid.as_str()) => {
            if record.state == KeyState::Active {
                return Transition::Keep;
            }
            next.state = KeyState::Active;
        }
        KeyState::Pending | KeyState::Active if record.activates_at <= now => {
            // A later key has taken over: retire, and keep publishing until
            // every token this one signed has expired.
            let retired_at = signing
                .and_then(|kid| records.iter().find(|k| k.kid == kid))
                .map_or(now, |k| k.activates_at);
            next.state = KeyState::Retired;
            next.retired_at = Some(retired_at);
            next.remove_at = Some(retired_at + settings.retain_after_retirement);
        }
        KeyState::Retired
            if record.remove_at.is_some_and(|at| at <= now)
                && record.keep_until.is_none_or(|at| at <= now) =>
        {
            return Transition::Remove;
        }
        _ => return Transition::Keep,
    }
    Transition::Update(Box::new(next))
}
