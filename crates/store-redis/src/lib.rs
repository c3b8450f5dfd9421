//! The Redis backend of the auth-service store: every replica stateless, all
//! shared state here.
//!
//! Key names keep the runbook's commands meaningful: `token:*` (refresh
//! tokens), `code:*`, `session:*`, `user:*`, `group:*`, `client:*`, `key:*`,
//! `rl:*` (counters), `family:*`, `consent:*`, `revoked:*`, `lease:*`, and
//! `idx:*` for secondary indexes; an optional prefix namespaces them all.
//!
//! On one Redis (at a fixed address, or the primary a set of Sentinels
//! names, see [`topology`]) every multi-key update is one Lua script (in
//! `lua/`), so no update is a read-modify-write race between replicas.
//! Those scripts build key names from the prefix they are given, which Redis
//! Cluster forbids; there [`cluster`] runs each update as steps that each
//! stay in one hash slot, with the key layout and the argument for each
//! contract written down in that module.
//!
//! Expiry is checked against the store clock in every read, as the contract
//! says ("expired means absent"); Redis TTLs only collect the garbage.
//!
//! Connection: one multiplexed [`ConnectionManager`], which reconnects by
//! itself. If Redis is down at startup the manager is created on first use,
//! so the service starts and turns ready when Redis appears. Every call is
//! bounded by the configured timeout and fails with `Unavailable`. Behind
//! Sentinels, a call that meets a replica (`READONLY`), a dropped
//! connection or a timeout forgets the primary, and a watcher forgets it
//! when the Sentinels announce `+switch-master` or, asked every
//! [`SENTINEL_POLL`], name another; the next call connects to the primary
//! the Sentinels name then.

mod apis;
mod audit;
pub mod cluster;
mod devices;
mod factors;
mod grants;
mod identity;
mod logout;
mod system;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{AsyncCommands, Client, FromRedisValue, RedisError, Script, ScriptInvocation};
use store::{Clock, Error, Result, Store, observe};
pub use topology::{ClusterTarget, SentinelAuth, Topology};

/// How often the Sentinels are asked whether the primary changed: the
/// longest a replica of the service keeps talking to a demoted primary
/// that still answers reads.
pub const SENTINEL_POLL: Duration = Duration::from_secs(1);

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db` or `rediss://…` for TLS.
    pub url: String,
    /// Prepended to every key (e.g. `"auth:"`); may be empty.
    pub prefix: String,
    /// Upper bound for any single store call, connection included.
    pub timeout: Duration,
    /// Durable writes ([`DURABLE`]) wait until this many replicas have
    /// them (`WAIT`), or fail as unavailable; 0 does not wait.
    pub min_replicas_ack: u32,
    /// The Sentinels' own credentials, when the URL is a Sentinel one and
    /// they have any.
    pub sentinel_auth: SentinelAuth,
}

/// The writes that must survive a primary's crash, and so wait for
/// [`RedisConfig::min_replicas_ack`] replicas: users, groups, clients,
/// signing keys, consents, revocations and refresh-token families. Codes,
/// sessions, counters and rate limits are short-lived and not waited for.
pub const DURABLE: &[&str] = &[
    "create_client",
    "update_client",
    "delete_client",
    "create_user",
    "update_user",
    "delete_user",
    "create_group",
    "update_group",
    "delete_group",
    "insert_key",
    "update_key",
    "delete_key",
    "put_consent",
    "delete_consent",
    "revoke_token_id",
    "create_family",
    "rotate_refresh_token",
    "revoke_family",
    "revoke_families_for_user",
    "upgrade_user_name_keys",
    // A TOTP step or signature counter lost on a failover would let a used
    // code or a cloned authenticator's counter be accepted again.
    "insert_factor",
    "rename_factor",
    "delete_factor",
    "delete_factors",
    "advance_factor",
];

/// The Redis store. Clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    /// Empty until the first successful connection; a failed attempt leaves
    /// it empty, so the next call tries again. Behind Sentinels it is
    /// emptied again when the primary may have changed.
    current: std::sync::RwLock<Option<Connected>>,
    /// One (re)connection at a time.
    connecting: tokio::sync::Mutex<()>,
    /// The last primary connected to, to count changes of it.
    last_primary: std::sync::Mutex<Option<String>>,
    prefix: String,
    timeout: Duration,
    min_replicas_ack: u32,
    clock: Arc<dyn Clock>,
    scripts: Scripts,
    /// On a cluster, which node serves each slot, for batched reads
    /// (cluster/batch.rs); read by the cluster watcher.
    slots: std::sync::RwLock<Option<Arc<cluster::SlotMap>>>,
    /// Wakes the cluster watcher to read the slot map again.
    slots_stale: Arc<tokio::sync::Notify>,
}

/// Where connections go.
enum Source {
    /// One Redis; the connection manager reconnects to it by itself.
    Single(Box<Client>),
    /// The primary the Sentinels name.
    Sentinel(Box<Sentinels>),
    /// A Redis Cluster; its client follows `MOVED`/`ASK` and refreshes the
    /// slot map by itself.
    Cluster(Box<redis::cluster::ClusterClient>),
}

/// A connection to the store's Redis: one node's reconnecting manager, or
/// a cluster's, which routes each command to the node that owns its slot.
#[derive(Clone)]
pub(crate) enum Conn {
    Node(ConnectionManager),
    /// With a record of the slots a durable write touched, for `WAIT`.
    Cluster(
        redis::cluster_async::ClusterConnection,
        Option<Arc<std::sync::Mutex<Vec<u16>>>>,
    ),
}

impl Conn {
    /// This connection, recording the slots it sends commands to (a
    /// cluster's only; one Redis needs no record).
    fn recording(self) -> Self {
        match self {
            Conn::Cluster(c, _) => Conn::Cluster(c, Some(Arc::default())),
            node => node,
        }
    }

    fn record(&self, cmd: &redis::Cmd) {
        if let Conn::Cluster(_, Some(slots)) = self
            && let Some(key) = cluster::first_key(cmd)
        {
            let slot = cluster::slot(key);
            let mut slots = slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
    }
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        self.record(cmd);
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c, _) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        for one in cmd.cmd_iter() {
            self.record(one);
        }
        match self {
            Conn::Node(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c, _) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c, _) => c.get_db(),
        }
    }
}

struct Sentinels {
    client: tokio::sync::Mutex<SentinelClient>,
    target: topology::SentinelTarget,
}

impl Sentinels {
    /// A client of the first Sentinel that answers (for its own commands:
    /// `CKQUORUM`, `+switch-master`).
    async fn sentinel(&self) -> RedisResultOf<Client> {
        self.client.lock().await.async_get_sentinel_client().await
    }
}

struct Connected {
    conn: Conn,
    /// `host:port` of the node written to, for readiness and `doctor`
    /// (none on a cluster, whose primaries `diagnostics` lists).
    primary: Option<String>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// The marker of userName keys under RFC 8265.
const USER_NAME_KEYS: &str = "rfc8265";

pub(crate) struct Scripts {
    pub user_write: Script,
    pub user_delete: Script,
    pub group_write: Script,
    pub group_delete: Script,
    pub code_insert: Script,
    pub code_take: Script,
    pub family_create: Script,
    pub family_rotate: Script,
    pub family_current: Script,
    pub family_revoke: Script,
    pub session_touch: Script,
    pub sessions_delete: Script,
    pub versioned_write: Script,
    pub counter_incr: Script,
    pub lease: Script,
    pub revoke_jti: Script,
    pub hset_if_exists: Script,
    pub user_by_name: Script,
    pub rate_limit: Script,
    pub hget_many: Script,
    pub smembers_many: Script,
    pub users_with_indexes: Script,
    pub factor_write: Script,
    pub factor_advance: Script,
    pub attempt: Script,
    pub user_rekey: Script,
    pub device_insert: Script,
    pub device_user_code: Script,
    pub device_decide: Script,
    pub device_poll: Script,
    pub session_client: Script,
    pub logout_queue: Script,
    pub logout_lease: Script,
    pub logout_reschedule: Script,
    pub logout_remove: Script,
    pub cluster: cluster::Scripts,
}

impl Scripts {
    fn load() -> Self {
        Self {
            user_write: Script::new(include_str!("lua/user_write.lua")),
            user_delete: Script::new(include_str!("lua/user_delete.lua")),
            group_write: Script::new(include_str!("lua/group_write.lua")),
            group_delete: Script::new(include_str!("lua/group_delete.lua")),
            code_insert: Script::new(include_str!("lua/code_insert.lua")),
            code_take: Script::new(include_str!("lua/code_take.lua")),
            family_create: Script::new(include_str!("lua/family_create.lua")),
            family_rotate: Script::new(include_str!("lua/family_rotate.lua")),
            family_current: Script::new(include_str!("lua/family_current.lua")),
            family_revoke: Script::new(include_str!("lua/family_revoke.lua")),
            session_touch: Script::new(include_str!("lua/session_touch.lua")),
            sessions_delete: Script::new(include_str!("lua/sessions_delete.lua")),
            versioned_write: Script::new(include_str!("lua/versioned_write.lua")),
            counter_incr: Script::new(include_str!("lua/counter_incr.lua")),
            lease: Script::new(include_str!("lua/lease.lua")),
            revoke_jti: Script::new(include_str!("lua/revoke_jti.lua")),
            hset_if_exists: Script::new(include_str!("lua/hset_if_exists.lua")),
            user_by_name: Script::new(include_str!("lua/user_by_name.lua")),
            rate_limit: Script::new(include_str!("lua/rate_limit.lua")),
            hget_many: Script::new(include_str!("lua/hget_many.lua")),
            smembers_many: Script::new(include_str!("lua/smembers_many.lua")),
            users_with_indexes: Script::new(include_str!("lua/users_with_indexes.lua")),
            factor_write: Script::new(include_str!("lua/factor_write.lua")),
            factor_advance: Script::new(include_str!("lua/factor_advance.lua")),
            attempt: Script::new(include_str!("lua/attempt.lua")),
            user_rekey: Script::new(include_str!("lua/user_rekey.lua")),
            device_insert: Script::new(include_str!("lua/device_insert.lua")),
            device_user_code: Script::new(include_str!("lua/device_user_code.lua")),
            device_decide: Script::new(include_str!("lua/device_decide.lua")),
            device_poll: Script::new(include_str!("lua/device_poll.lua")),
            session_client: Script::new(include_str!("lua/session_client.lua")),
            logout_queue: Script::new(include_str!("lua/logout_queue.lua")),
            logout_lease: Script::new(include_str!("lua/logout_lease.lua")),
            logout_reschedule: Script::new(include_str!("lua/logout_reschedule.lua")),
            logout_remove: Script::new(include_str!("lua/logout_remove.lua")),
            cluster: cluster::Scripts::load(),
        }
    }
}

/// Checks that `url` is a Redis URL this backend can use, without connecting.
pub fn validate_url(url: &str) -> std::result::Result<(), String> {
    Topology::parse(url).map(drop)
}

fn sentinel_client(
    target: &topology::SentinelTarget,
    auth: &SentinelAuth,
) -> RedisResultOf<SentinelClient> {
    let mut builder = SentinelClientBuilder::new(
        target.addresses(),
        &target.service,
        SentinelServerType::Master,
    )?
    .set_client_to_redis_db(target.db);
    if let Some(user) = &target.username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = &target.password {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(user) = &auth.username {
        builder = builder.set_client_to_sentinel_username(user);
    }
    if let Some(password) = &auth.password {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if target.tls {
        builder = builder
            .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
    }
    builder.build()
}

type RedisResultOf<T> = std::result::Result<T, RedisError>;

fn cluster_client(
    target: &topology::ClusterTarget,
    timeout: Duration,
) -> RedisResultOf<redis::cluster::ClusterClient> {
    let mut builder = redis::cluster::ClusterClientBuilder::new(target.addresses())
        .connection_timeout(timeout)
        .response_timeout(timeout)
        // MOVED, ASK and TRYAGAIN are retried by the client; a failover
        // takes longer than these retries, and its calls fail as unavailable.
        .retries(3)
        .min_retry_wait(10)
        .max_retry_wait(200);
    if let Some(user) = &target.username {
        builder = builder.username(user);
    }
    if let Some(password) = &target.password {
        builder = builder.password(password);
    }
    if target.tls {
        builder = builder.tls(redis::TlsMode::Secure);
    }
    builder.build()
}

impl RedisStore {
    /// Validates the URL; does not connect (the first call does).
    pub fn new(config: &RedisConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let invalid = |e: String| Error::Corrupt {
            message: format!("invalid Redis URL: {e}"),
            source: None,
        };
        let source = match Topology::parse(&config.url).map_err(invalid)? {
            Topology::Cluster(target) => Source::Cluster(Box::new(
                cluster_client(&target, config.timeout).map_err(|e| invalid(e.to_string()))?,
            )),
            Topology::Single(url) => Source::Single(Box::new(
                Client::open(url).map_err(|e| invalid(e.to_string()))?,
            )),
            Topology::Sentinel(target) => Source::Sentinel(Box::new(Sentinels {
                client: tokio::sync::Mutex::new(
                    sentinel_client(&target, &config.sentinel_auth)
                        .map_err(|e| invalid(e.to_string()))?,
                ),
                target,
            })),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                source,
                current: std::sync::RwLock::new(None),
                connecting: tokio::sync::Mutex::new(()),
                last_primary: std::sync::Mutex::new(None),
                prefix: config.prefix.clone(),
                timeout: config.timeout,
                min_replicas_ack: config.min_replicas_ack,
                clock,
                scripts: Scripts::load(),
                slots: std::sync::RwLock::default(),
                slots_stale: Arc::default(),
            }),
        })
    }

    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    /// The key of one aggregate, `{prefix}{kind}:{id}`; on a cluster the id
    /// is the hash tag, `{prefix}{kind}:{{id}}`, so that every key of the
    /// aggregate lands in one slot ([`cluster`] has the layout). The type
    /// prefix comes first either way, so `keys "user:*"` lists users.
    pub(crate) fn tagged(&self, kind: &str, id: &str) -> String {
        if self.clustered() {
            format!("{}{kind}:{{{id}}}", self.inner.prefix)
        } else {
            format!("{}{kind}:{id}", self.inner.prefix)
        }
    }

    /// A key under an aggregate's tag: `{prefix}{kind}:{{tag}}:{rest}`.
    pub(crate) fn tagged_under(&self, kind: &str, tag: &str, rest: &str) -> String {
        if self.clustered() {
            format!("{}{kind}:{{{tag}}}:{rest}", self.inner.prefix)
        } else {
            format!("{}{kind}:{tag}:{rest}", self.inner.prefix)
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    pub(crate) fn min_replicas_ack(&self) -> u32 {
        self.inner.min_replicas_ack
    }

    /// Whether the store is a Redis Cluster.
    pub(crate) fn clustered(&self) -> bool {
        matches!(self.inner.source, Source::Cluster(_))
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    /// The current connection: a handle clone, no allocation (every store
    /// call takes this path).
    fn manager(&self) -> Option<Conn> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|c| c.conn.clone())
    }

    /// Forgets the primary (behind Sentinels only), so that the next call
    /// asks the Sentinels again.
    fn forget_primary(&self, why: &str) {
        if matches!(self.inner.source, Source::Sentinel(_)) {
            let old = self
                .inner
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(old) = old {
                let primary = old.primary.unwrap_or_default();
                tracing::warn!(event = "redis_primary_lost", primary = %primary, reason = why, "asking the Sentinels for the primary again");
            }
        }
    }

    /// The shared connection, created on first use (and, behind Sentinels,
    /// again after the primary changed).
    async fn connection(&self) -> Result<Conn> {
        if let Some(manager) = self.manager() {
            return Ok(manager);
        }
        let _one = self.inner.connecting.lock().await;
        if let Some(manager) = self.manager() {
            return Ok(manager);
        }
        let (client, sentinel) = match &self.inner.source {
            Source::Cluster(client) => {
                let conn = Conn::Cluster(
                    client.get_async_connection().await.map_err(|e| {
                        Error::unavailable(format!("cannot join the Redis Cluster: {e}"), e)
                    })?,
                    None,
                );
                if let Conn::Cluster(cluster, _) = &conn {
                    self.watch_cluster(cluster.clone());
                }
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Connected {
                    conn: conn.clone(),
                    primary: None,
                });
                return Ok(conn);
            }
            Source::Single(client) => (client.as_ref().clone(), false),
            Source::Sentinel(sentinels) => {
                let Sentinels { client, target } = sentinels.as_ref();
                let found = client.lock().await.async_get_client().await.map_err(|e| {
                    Error::unavailable(
                        format!(
                            "the Sentinels ({}) do not name a primary for {:?}",
                            target.redacted(),
                            target.service
                        ),
                        e,
                    )
                })?;
                (found, true)
            }
        };
        let primary = address(&client);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = Conn::Node(
            ConnectionManager::new_with_config(client, config)
                .await
                .map_err(|e| Error::unavailable("cannot connect to Redis", e))?,
        );
        if sentinel {
            tracing::info!(event = "redis_primary", primary = %primary, "connected to the primary the Sentinels name");
            let previous = self
                .inner
                .last_primary
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .replace(primary.clone());
            if previous.is_some_and(|p| p != primary) {
                metrics::counter!("auth_redis_primary_changes_total").increment(1);
                metrics::gauge!("auth_redis_last_failover_timestamp_seconds")
                    .set(self.now() as f64);
            }
            self.watch_sentinels(primary.clone());
        }
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Connected {
            conn: manager.clone(),
            primary: Some(primary),
        });
        Ok(manager)
    }

    /// The primary's connected replicas (`INFO replication`), if it answers.
    async fn connected_replicas(&self) -> Option<u32> {
        let mut conn = self.manager()?;
        let info: String = tokio::time::timeout(
            self.inner.timeout,
            redis::cmd("INFO").arg("replication").query_async(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        info.lines()
            .find_map(|l| l.trim().strip_prefix("connected_slaves:")?.parse().ok())
    }

    /// What the Sentinels say of their quorum (`SENTINEL CKQUORUM`): `OK …`
    /// when a failover can be authorized, otherwise why not.
    async fn quorum(&self, sentinels: &Sentinels) -> String {
        let answer = tokio::time::timeout(self.inner.timeout, async {
            let client = sentinels.sentinel().await?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("SENTINEL")
                .arg("CKQUORUM")
                .arg(&sentinels.target.service)
                .query_async::<String>(&mut conn)
                .await
        })
        .await;
        match answer {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => format!("NOQUORUM {e}"),
            Err(_) => "NOQUORUM the Sentinels did not answer".to_owned(),
        }
    }

    /// `WAIT`s until [`RedisConfig::min_replicas_ack`] replicas have every
    /// write this connection made, for at most half the store timeout (so
    /// the answer comes before the call's own timeout).
    async fn wait_for_replicas(&self, mut conn: Conn, op: &'static str) -> Result<()> {
        let wanted = self.inner.min_replicas_ack;
        let millis = u64::try_from(self.inner.timeout.as_millis() / 2)
            .unwrap_or(u64::MAX)
            .max(1);
        let mut wait = redis::cmd("WAIT");
        wait.arg(wanted).arg(millis);
        let acked: u32 = match &mut conn {
            // WAIT counts the writes of the connection it is sent on: on a
            // cluster, the connection to each primary the write touched
            // (not every primary, so a failed one holds up its slots only).
            Conn::Cluster(cluster, Some(slots)) => {
                let slots = slots
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                // All at once: each waits up to `millis`.
                let waits = slots.into_iter().map(|slot| {
                    let mut cluster = cluster.clone();
                    let wait = wait.clone();
                    async move {
                        let route = redis::cluster_routing::RoutingInfo::SingleNode(
                            redis::cluster_routing::SingleNodeRoutingInfo::SpecificNode(
                                redis::cluster_routing::Route::new(
                                    slot,
                                    redis::cluster_routing::SlotAddr::Master,
                                ),
                            ),
                        );
                        let reply = cluster
                            .route_command(wait, route)
                            .await
                            .map_err(redis_err)?;
                        redis::from_redis_value::<u32>(reply)
                            .map_err(|e| Error::corrupt("unexpected WAIT reply", e))
                    }
                });
                // A write that touched no key has nothing to wait for.
                futures_util::future::try_join_all(waits)
                    .await?
                    .into_iter()
                    .min()
                    .unwrap_or(wanted)
            }
            conn => wait.query_async(conn).await.map_err(redis_err)?,
        };
        if acked >= wanted {
            return Ok(());
        }
        tracing::warn!(
            event = "redis_replicas_missing",
            op,
            acked,
            wanted,
            "a durable write was not acknowledged by enough replicas"
        );
        Err(Error::Unavailable {
            message: format!(
                "{op}: {acked} of {wanted} Redis replicas acknowledged the write within {millis} ms; it may not survive a failover"
            ),
            source: None,
        })
    }

    /// Asks the Sentinels every [`SENTINEL_POLL`] whether the primary is
    /// still `primary`; when it is not, forgets it. Stops when the store is
    /// dropped or the primary was forgotten for another reason.
    fn watch_sentinels(&self, primary: String) {
        let weak = Arc::downgrade(&self.inner);
        let service = match &self.inner.source {
            Source::Sentinel(sentinels) => sentinels.target.service.clone(),
            Source::Single(_) | Source::Cluster(_) => return,
        };
        tokio::spawn(async move {
            // Sentinel's `+switch-master` announces a failover as it happens
            // (best effort: without it, the poll below still finds it).
            let mut switches = match weak.upgrade() {
                Some(inner) => RedisStore { inner }.subscribe_switches().await,
                None => return,
            };
            loop {
                let switched = match &mut switches {
                    Some(stream) => tokio::select! {
                        message = futures_util::StreamExt::next(stream) => match message {
                            Some(message) => message
                                .get_payload::<String>()
                                .is_ok_and(|payload| switch_away(&payload, &service, &primary)),
                            None => {
                                switches = None;
                                false
                            }
                        },
                        () = tokio::time::sleep(SENTINEL_POLL) => false,
                    },
                    None => {
                        tokio::time::sleep(SENTINEL_POLL).await;
                        false
                    }
                };
                let Some(inner) = weak.upgrade() else { return };
                let store = RedisStore { inner };
                if store.primary().as_deref() != Some(primary.as_str()) {
                    return;
                }
                if switched {
                    store.forget_primary("the Sentinels announced +switch-master");
                    return;
                }
                let Source::Sentinel(sentinels) = &store.inner.source else {
                    return;
                };
                let client = &sentinels.client;
                let named = tokio::time::timeout(store.inner.timeout, async {
                    client.lock().await.async_get_client().await
                })
                .await;
                match named {
                    Ok(Ok(found)) if address(&found) != primary => {
                        store.forget_primary("the Sentinels name another primary");
                        return;
                    }
                    // Same primary, or the Sentinels did not answer: the
                    // calls themselves notice a primary that is gone.
                    _ => {}
                }
                if let Some(replicas) = store.connected_replicas().await {
                    metrics::gauge!("auth_redis_replicas").set(f64::from(replicas));
                }
            }
        });
    }

    /// A subscription to `+switch-master` on the first Sentinel that
    /// answers, or `None`.
    async fn subscribe_switches(&self) -> Option<redis::aio::PubSubStream> {
        let Source::Sentinel(sentinels) = &self.inner.source else {
            return None;
        };
        let subscribed = tokio::time::timeout(self.inner.timeout, async {
            let client = sentinels.sentinel().await?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            Ok::<_, RedisError>(pubsub.into_on_message())
        })
        .await;
        match subscribed {
            Ok(Ok(stream)) => Some(stream),
            _ => None,
        }
    }

    /// Runs one Redis interaction under the store timeout, with metrics.
    pub(crate) async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let timeout = self.inner.timeout;
        observe("redis", op, async move {
            let durable = self.inner.min_replicas_ack > 0 && DURABLE.contains(&op);
            let work = async {
                let mut conn = self.connection().await?;
                if durable {
                    conn = conn.recording();
                }
                let result = f(conn.clone()).await?;
                if durable {
                    self.wait_for_replicas(conn, op).await?;
                }
                Ok(result)
            };
            match tokio::time::timeout(timeout, work).await {
                Ok(Err(e)) => {
                    if let Some(why) = lost_primary(&e) {
                        self.forget_primary(why);
                    }
                    Err(e)
                }
                Ok(result) => result,
                Err(elapsed) => {
                    self.forget_primary("timeout");
                    tracing::warn!(
                        event = "store_timeout",
                        backend = "redis",
                        op,
                        timeout_ms = timeout.as_millis() as u64,
                        "store call timed out"
                    );
                    Err(Error::unavailable(
                        format!("Redis did not answer within {timeout:?}"),
                        elapsed,
                    ))
                }
            }
        })
        .await
    }
}

impl RedisStore {
    /// Runs a prepared Lua script invocation as one store call.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        op: &'static str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<T> {
        self.call(op, |mut conn| async move {
            invocation.invoke_async(&mut conn).await.map_err(redis_err)
        })
        .await
    }

    /// Runs a script that answers with a status word (see [`status`]).
    pub(crate) async fn invoke_status(
        &self,
        op: &'static str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<()> {
        status(&self.invoke::<Vec<String>>(op, invocation).await?)
    }

    /// Inserts or compare-and-swaps a `{data, version}` record and adds it
    /// to its sorted-set index: one script on one Redis; on a cluster the
    /// record, then the index ([`cluster`]: a crash in between leaves a
    /// record the index lacks, which the repair adds).
    pub(crate) async fn versioned_write(&self, op: &'static str, w: Versioned<'_>) -> Result<()> {
        let mut invocation = self.inner.scripts.versioned_write.prepare_invoke();
        invocation.key(&w.record);
        if !self.clustered() {
            invocation.key(&w.index);
        }
        invocation
            .arg(w.expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(w.version)
            .arg(&w.data)
            .arg(w.score)
            .arg(w.member);
        self.invoke_status(op, invocation).await?;
        if self.clustered() {
            let (index, score, member) = (w.index, w.score, w.member.to_owned());
            self.call(op, |mut conn| async move {
                conn.zadd::<_, _, _, ()>(index, member, score)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        }
        Ok(())
    }

    /// Deletes a record and its entry in a sorted-set index: atomically on
    /// one Redis; on a cluster the record, then the entry (an entry whose
    /// record is gone is skipped by readers, and removed by the repair).
    /// `NotFound` if the record was absent.
    pub(crate) async fn delete_indexed(
        &self,
        op: &'static str,
        key: String,
        index: String,
        member: String,
    ) -> Result<()> {
        let clustered = self.clustered();
        let deleted: u64 = self
            .call(op, |mut conn| async move {
                if clustered {
                    let deleted: u64 = conn.del(key).await.map_err(redis_err)?;
                    conn.zrem::<_, _, ()>(index, member)
                        .await
                        .map_err(redis_err)?;
                    return Ok(deleted);
                }
                let (deleted, _): (u64, u64) = redis::pipe()
                    .atomic()
                    .del(key)
                    .zrem(index, member)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                Ok(deleted)
            })
            .await?;
        if deleted == 0 {
            Err(Error::NotFound)
        } else {
            Ok(())
        }
    }
}

/// A versioned record write ([`RedisStore::versioned_write`]).
pub(crate) struct Versioned<'a> {
    pub record: String,
    pub index: String,
    /// The version the record must have; `None` creates it.
    pub expected: Option<u64>,
    pub version: u64,
    pub data: String,
    pub score: i64,
    pub member: &'a str,
}

/// Whether a `+switch-master` message (`<name> <old-ip> <old-port>
/// <new-ip> <new-port>`) moves `service` away from `primary`.
fn switch_away(payload: &str, service: &str, primary: &str) -> bool {
    let words: Vec<&str> = payload.split_whitespace().collect();
    match words.as_slice() {
        [name, _, _, ip, port] => *name == service && format!("{ip}:{port}") != primary,
        _ => false,
    }
}

/// `host:port` of a client's node.
fn address(client: &Client) -> String {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port)
        | redis::ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        redis::ConnectionAddr::Unix(path) => path.display().to_string(),
        other => format!("{other:?}"),
    }
}

/// Whether an error means the node may no longer be the primary: it
/// refused a write as a replica (`READONLY`), or the connection failed.
fn lost_primary(e: &Error) -> Option<&'static str> {
    let Error::Unavailable {
        source: Some(source),
        ..
    } = e
    else {
        return None;
    };
    let redis = source.downcast_ref::<RedisError>()?;
    if redis.code() == Some("READONLY") {
        Some("the node is a replica now (READONLY)")
    } else if redis.is_io_error() || redis.is_connection_dropped() || redis.is_connection_refusal()
    {
        Some("the connection failed")
    } else {
        None
    }
}

/// Maps a Redis error: a reply of the wrong shape means the data is not
/// ours to read; anything else is the backend being unavailable.
pub(crate) fn redis_err(e: RedisError) -> Error {
    if e.kind() == redis::ErrorKind::UnexpectedReturnType {
        Error::corrupt("unexpected reply from Redis", e)
    } else {
        Error::unavailable("Redis error", e)
    }
}

/// A script's status word, mapped to the store's answers.
pub(crate) fn status(reply: &[String]) -> Result<()> {
    use store::Conflict;
    match reply.first().map(String::as_str) {
        Some("ok") => Ok(()),
        Some("notfound") => Err(Error::NotFound),
        Some("exists") => Err(Error::Conflict(Conflict::Exists)),
        Some("version") => Err(Error::Conflict(Conflict::Version)),
        Some("unique") => Err(Error::Conflict(Conflict::Unique("userName"))),
        other => Err(Error::Corrupt {
            message: format!("unexpected script reply {other:?}"),
            source: None,
        }),
    }
}

/// A script reply of the wrong shape.
pub(crate) fn short_reply(op: &str) -> Error {
    Error::Corrupt {
        message: format!("{op}: unexpected script reply"),
        source: None,
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

pub(crate) fn parse_i64(text: Option<&String>) -> Result<i64> {
    text.and_then(|t| t.parse().ok())
        .ok_or_else(|| Error::Corrupt {
            message: format!("expected a number, got {text:?}"),
            source: None,
        })
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn get_user_with_groups(
        &self,
        id: &str,
    ) -> Result<(store::UserRecord, Vec<store::GroupRecord>)> {
        let mut found = self
            .with_groups("get_user_with_groups", &[id.to_owned()])
            .await?;
        found.pop().ok_or(Error::NotFound)
    }

    async fn get_user_by_name_with_groups(
        &self,
        user_name: &str,
    ) -> Result<(store::UserRecord, Vec<store::GroupRecord>)> {
        if self.clustered() {
            return self.cluster_user_by_name_with_groups(user_name).await;
        }
        let user = store::UserStore::get_user_by_name(self, user_name).await?;
        let groups = store::GroupStore::groups_with_member(self, &user.id).await?;
        Ok((user, groups))
    }

    async fn list_users_with_groups(
        &self,
        page: store::Page,
    ) -> Result<store::Paged<(store::UserRecord, Vec<store::GroupRecord>)>> {
        let op = "list_users_with_groups";
        let (total, ids) = self.page_ids(op, "idx:users", page).await?;
        Ok(store::Paged {
            total,
            items: self.with_groups(op, &ids).await?,
        })
    }

    fn primary(&self) -> Option<String> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|c| c.primary.clone())
    }

    async fn ping(&self) -> Result<()> {
        self.call("ping", |mut conn| async move {
            if let Conn::Cluster(cluster, _) = &mut conn {
                return cluster::ping(cluster).await;
            }
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(redis_err)?;
            Ok(())
        })
        .await
    }

    async fn diagnostics(&self) -> Result<std::collections::BTreeMap<String, String>> {
        if self.clustered() {
            return self.cluster_diagnostics().await;
        }
        let out = self
            .call("diagnostics", |mut conn| async move {
                let mut out = std::collections::BTreeMap::new();
                for name in [
                    "appendonly",
                    "appendfsync",
                    "save",
                    "maxmemory",
                    "maxmemory-policy",
                ] {
                    // Managed Redis may refuse CONFIG: the setting is then unknown.
                    let reply: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
                        .arg("GET")
                        .arg(name)
                        .query_async(&mut conn)
                        .await;
                    if let Ok(pair) = reply
                        && let Some(value) = pair.get(1)
                    {
                        out.insert(name.to_owned(), value.clone());
                    }
                }
                let (seconds, _micros): (String, String) = redis::cmd("TIME")
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                out.insert("time".to_owned(), seconds);
                // Replicas of the node written to: where a failover can go,
                // and what AUTH_REDIS_MIN_REPLICAS_ACK can count on.
                // An ACL may refuse INFO (the example allows it): unknown then.
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                for line in info.lines() {
                    if let Some(n) = line.trim().strip_prefix("connected_slaves:") {
                        out.insert("connected_replicas".to_owned(), n.to_owned());
                    }
                    if let Some(role) = line.trim().strip_prefix("role:") {
                        out.insert("role".to_owned(), role.to_owned());
                    }
                }
                Ok(out)
            })
            .await?;
        let mut out = out;
        out.insert(
            "min_replicas_ack".to_owned(),
            self.inner.min_replicas_ack.to_string(),
        );
        if let Some(primary) = self.primary() {
            out.insert("primary".to_owned(), primary);
        }
        match &self.inner.source {
            Source::Single(_) => {
                out.insert("topology".to_owned(), "single".to_owned());
            }
            Source::Sentinel(sentinels) => {
                out.insert("topology".to_owned(), "sentinel".to_owned());
                out.insert("sentinel_quorum".to_owned(), self.quorum(sentinels).await);
            }
            Source::Cluster(_) => unreachable!("answered above"),
        }
        Ok(out)
    }

    /// Redis expires keys itself. On a cluster, this is when the indexes
    /// are repaired after a crash between the steps of a write
    /// ([`cluster`]); the count is of entries added or removed.
    async fn purge_expired(&self) -> Result<u64> {
        if self.clustered() {
            return self.repair_indexes().await;
        }
        Ok(0)
    }

    /// Once per Redis (a marker key records it): every user's userName
    /// index moves to [`store::user_name_key`], a page at a time, each page
    /// one script (atomic per user; replicas starting at once may both run
    /// it, which is harmless).
    async fn upgrade_user_name_keys(&self) -> Result<Vec<String>> {
        let marker = self.key("meta:user-name-keys");
        let done: Option<String> = self
            .call("upgrade_user_name_keys", |mut conn| {
                let marker = marker.clone();
                async move {
                    redis::cmd("GET")
                        .arg(marker)
                        .query_async(&mut conn)
                        .await
                        .map_err(redis_err)
                }
            })
            .await?;
        if done.as_deref() == Some(USER_NAME_KEYS) {
            return Ok(Vec::new());
        }
        // Cluster support came after RFC 8265 keys: a cluster holds no
        // earlier keys, and the re-keying script is not cluster-safe.
        let taken = if self.clustered() {
            Vec::new()
        } else {
            self.rekey_user_names().await?
        };
        self.call("upgrade_user_name_keys", |mut conn| {
            let marker = marker.clone();
            async move {
                redis::cmd("SET")
                    .arg(marker)
                    .arg(USER_NAME_KEYS)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_err)
            }
        })
        .await?;
        Ok(taken)
    }
}

impl RedisStore {
    /// Moves every user's userName index entry to its RFC 8265 key, a page
    /// at a time; returns the ids whose new key another user holds.
    async fn rekey_user_names(&self) -> Result<Vec<String>> {
        let mut taken = Vec::new();
        let mut offset = 0;
        loop {
            let page =
                store::UserStore::list_users(self, store::Page { offset, limit: 500 }).await?;
            let read = page.items.len() as u64;
            if read > 0 {
                let mut invocation = self.inner.scripts.user_rekey.prepare_invoke();
                invocation.arg(&self.inner.prefix);
                for user in &page.items {
                    invocation
                        .arg(&user.id)
                        .arg(store::user_name_key(&user.user_name));
                }
                let ids: Vec<String> = self.invoke("upgrade_user_name_keys", invocation).await?;
                taken.extend(ids);
            }
            offset += read;
            if read < 500 {
                break;
            }
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::switch_away;

    #[test]
    fn switch_master_messages_are_read_for_our_service_only() {
        let current = "10.0.0.1:6379";
        assert!(switch_away(
            "auth 10.0.0.1 6379 10.0.0.2 6379",
            "auth",
            current
        ));
        assert!(!switch_away(
            "other 10.0.0.1 6379 10.0.0.2 6379",
            "auth",
            current
        ));
        assert!(!switch_away(
            "auth 10.0.0.2 6379 10.0.0.1 6379",
            "auth",
            current
        ));
        assert!(!switch_away("garbage", "auth", current));
    }
}
