//! The Redis backend on Redis Cluster: the key layout and the protocols
//! that keep each store contract without a cross-slot script.
//!
//! Redis Cluster runs a script or a `MULTI` only when every key it touches
//! is in one hash slot. Keys that must change together therefore share a
//! hash tag (the part in braces, placed after the type prefix so that
//! `redis-cli --cluster call … keys "user:*"` still lists users), and a
//! contract that spans aggregates is kept by ordered single-slot steps.
//!
//! | Aggregate | Keys (tag in braces) | Atomic |
//! |---|---|---|
//! | authorization code | `code:{hash}` | take-once: one key |
//! | refresh family | `family:{fid}` | rotation CAS, reuse detection, revoke: one hash |
//! | refresh token | `token:{hash}` → fid | a pointer; trusted only when its family names it |
//! | browser session | `session:{hash}` | put, touch, read: one hash |
//! | user | `user:{uid}`; `idx:member-groups:{uid}`, `idx:user-sessions:{uid}`, `idx:user-families:{uid}`, `idx:consents:{uid}`, `consent:{uid}:cid` | the record CAS; a consent and the user's consent index together |
//! | userName | `idx:username:{name}` → "uid version time" | the reservation (`SET` if absent) |
//! | externalId, email | `idx:user-external:{ext}`, `idx:user-email:{email}` | version-stamped entries |
//! | group | `group:{gid}`, `idx:group-members:{gid}` | the record CAS with its member set |
//! | client, signing key | `client:{cid}`, `key:{kid}` | the record CAS |
//! | lists | `idx:users`, `idx:groups`, `idx:clients`, `idx:keys` | one sorted set each |
//! | back-channel logout | `session-clients:{uid}`; `logout:{queue}`, `logout:{queue}:notices` | a session client: one hash; the notice queue: one slot |
//! | counters, limits, leases, revoked ids | `rl:{k}`, `rate:{k}`, `attempt:{k}`, `lease:{name}`, `revoked:{jti}` | one key each |
//!
//! The contracts that span slots are "atomic with a repair step":
//!
//! - **userName uniqueness.** A write first reserves the name key for the
//!   user and the version it is writing (`lua/cluster/name_reserve.lua`,
//!   one key), then writes the record. Only the holder of the reservation
//!   can commit a record with that name, so two users never hold one name.
//!   A failed write releases a reservation it made; a write whose outcome is
//!   unknown (a timeout) keeps it, because the record may have been written.
//!   A reservation is stale when its user's record does not carry the name
//!   and it is older than [`RESERVATION_GRACE`]; the next writer of the
//!   name takes it over with a compare-and-set. A writer that took longer
//!   than half the grace between reserving and writing gives up instead of
//!   writing, so a takeover never meets a late commit. Lookups read the
//!   reservation, then the record, and answer only when the record agrees.
//! - **Secondary lookups** (externalId, email, a member's groups): the entry
//!   is added before the record is written and removed after, so the index
//!   is a superset of the truth and every reader checks the record. Entries
//!   are scored with the record version that asserted them, and a removal
//!   takes an entry only if no later version asserted it since
//!   (`lua/cluster/index_remove.lua`), so concurrent writers never drop a
//!   live entry.
//! - **Lists** (`idx:users` and the others): the record is written, then
//!   the list; a record is deleted, then its entry. Readers skip entries
//!   whose record is gone. A crash between the steps leaves a record the
//!   list lacks, or an entry without a record; the repair
//!   ([`RedisStore::repair_indexes`], run by the periodic purge) adds the
//!   first and removes the second.
//! - **Refresh tokens.** Creating a family or rotating writes the new
//!   token's pointer with `SET NX` first (which keeps new hashes unique),
//!   then runs the family's compare-and-swap; a pointer whose swap did not
//!   happen is deleted, and one left by a crash points at a family that
//!   does not name it, which no reader trusts (and no client holds).
//! - **A user's sessions and families.** The user's index is written before
//!   the session or family and read whole when they are all revoked; a
//!   stale entry names a session or family that is gone, which is skipped.
//!
//! Durable writes wait for the replicas of the primary of each slot they
//! touched (`WAIT` goes to each of those primaries), so
//! `AUTH_REDIS_MIN_REPLICAS_ACK` means the same as on one Redis.
//!
//! Reads of many keys (a page of users with their member indexes, the
//! groups they name) go as one pipeline per node, by a slot map that may be
//! stale and costs a resend when it is (`batch.rs`). A user and its member
//! index share a slot, so they are read in one round trip.

mod batch;
mod grants;
mod identity;

pub(crate) use batch::SlotMap;

use std::collections::BTreeMap;
use std::time::Duration;

use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Script, Value};
use store::Result;

use crate::{Conn, RedisStore, redis_err};

/// How old a userName reservation whose user does not carry the name must
/// be before another user may take it over (see the module docs). Far
/// longer than a store call, which the store timeout bounds.
pub const RESERVATION_GRACE: Duration = Duration::from_secs(60);

/// The single-slot scripts of the cluster protocols (`lua/cluster/`).
pub(crate) struct Scripts {
    pub user_cas: Script,
    pub user_remove: Script,
    pub name_reserve: Script,
    pub name_takeover: Script,
    pub name_release: Script,
    pub index_remove: Script,
    pub group_cas: Script,
    pub group_remove: Script,
    pub family_init: Script,
    pub family_step: Script,
    pub family_read: Script,
    pub family_revoke_one: Script,
    pub session_remove: Script,
}

impl Scripts {
    pub(crate) fn load() -> Self {
        Self {
            user_cas: Script::new(include_str!("../lua/cluster/user_cas.lua")),
            user_remove: Script::new(include_str!("../lua/cluster/user_remove.lua")),
            name_reserve: Script::new(include_str!("../lua/cluster/name_reserve.lua")),
            name_takeover: Script::new(include_str!("../lua/cluster/name_takeover.lua")),
            name_release: Script::new(include_str!("../lua/cluster/name_release.lua")),
            index_remove: Script::new(include_str!("../lua/cluster/index_remove.lua")),
            group_cas: Script::new(include_str!("../lua/cluster/group_cas.lua")),
            group_remove: Script::new(include_str!("../lua/cluster/group_remove.lua")),
            family_init: Script::new(include_str!("../lua/cluster/family_init.lua")),
            family_step: Script::new(include_str!("../lua/cluster/family_step.lua")),
            family_read: Script::new(include_str!("../lua/cluster/family_read.lua")),
            family_revoke_one: Script::new(include_str!("../lua/cluster/family_revoke_one.lua")),
            session_remove: Script::new(include_str!("../lua/cluster/session_remove.lua")),
        }
    }
}

/// The ordered lists and the record kind each lists, for the repair.
const LISTS: &[(&str, &str)] = &[
    ("idx:users", "user"),
    ("idx:groups", "group"),
    ("idx:clients", "client"),
    ("idx:keys", "key"),
];

impl RedisStore {
    fn cluster_scripts(&self) -> &Scripts {
        &self.scripts().cluster
    }

    /// Sends every command at once, as one store call: their keys are in
    /// many slots, which no pipeline or script can span. Answers in order.
    pub(crate) async fn each<T: redis::FromRedisValue + Send + 'static>(
        &self,
        op: &'static str,
        cmds: Vec<redis::Cmd>,
    ) -> Result<Vec<T>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.call(op, |conn| async move {
            let sends = cmds.into_iter().map(|cmd| {
                let mut conn = conn.clone();
                async move { cmd.query_async::<T>(&mut conn).await }
            });
            futures_util::future::try_join_all(sends)
                .await
                .map_err(redis_err)
        })
        .await
    }

    /// The `data` field of each hash, in order, skipping vanished ones.
    pub(crate) async fn load_many_across_slots<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        keys: Vec<String>,
    ) -> Result<Vec<T>> {
        let reads = keys
            .into_iter()
            .map(|key| redis::cmd("HGET").arg(key).arg("data").clone())
            .collect();
        let rows: Vec<Option<String>> = self.read_across_slots(op, reads).await?;
        rows.into_iter()
            .flatten()
            .map(|data| crate::from_json(&data))
            .collect()
    }

    /// The members of each version-stamped index, in order.
    pub(crate) async fn sets_across_slots(
        &self,
        op: &'static str,
        indexes: Vec<String>,
    ) -> Result<Vec<Vec<String>>> {
        let reads = indexes
            .into_iter()
            .map(|index| redis::cmd("ZRANGE").arg(index).arg(0).arg(-1).clone())
            .collect();
        self.read_across_slots(op, reads).await
    }

    /// Adds `member` to each index, scored with `version` (never lowering a
    /// later version's score).
    async fn stamp(
        &self,
        op: &'static str,
        indexes: Vec<String>,
        member: &str,
        version: u64,
    ) -> Result<()> {
        let adds = indexes
            .into_iter()
            .map(|index| {
                redis::cmd("ZADD")
                    .arg(index)
                    .arg("GT")
                    .arg(version)
                    .arg(member)
                    .clone()
            })
            .collect();
        self.each::<()>(op, adds).await.map(drop)
    }

    /// Removes `member` from each index unless a version after `version`
    /// (`None`: any) asserted it.
    async fn unstamp(
        &self,
        op: &'static str,
        indexes: Vec<String>,
        member: &str,
        version: Option<u64>,
    ) -> Result<()> {
        let version = version.map_or_else(|| "inf".to_owned(), |v| v.to_string());
        let removals = indexes.into_iter().map(|index| {
            let mut invocation = self.cluster_scripts().index_remove.prepare_invoke();
            invocation.key(index).arg(member).arg(&version);
            async move { self.invoke_status(op, invocation).await }
        });
        futures_util::future::try_join_all(removals).await.map(drop)
    }

    /// `INFO`-style facts of the cluster for `doctor` and readiness: its
    /// state, the slots covered, primaries and replicas, and each primary's
    /// persistence and eviction settings (the weakest one is reported).
    pub(crate) async fn cluster_diagnostics(&self) -> Result<BTreeMap<String, String>> {
        let mut out = self
            .call("diagnostics", |mut conn| async move {
                let mut out = BTreeMap::new();
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                for line in info.lines() {
                    if let Some((name, value)) = line.trim().split_once(':')
                        && [
                            "cluster_state",
                            "cluster_slots_assigned",
                            "cluster_slots_ok",
                            "cluster_known_nodes",
                        ]
                        .contains(&name)
                    {
                        out.insert(name.to_owned(), value.to_owned());
                    }
                }
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                let shape = Shape::parse(&nodes);
                out.insert(
                    "cluster_primaries".to_owned(),
                    shape.primaries.len().to_string(),
                );
                out.insert("cluster_replicas".to_owned(), shape.replicas.to_string());
                out.insert(
                    "cluster_primaries_without_replica".to_owned(),
                    shape.without_replica().join(","),
                );
                out.insert(
                    "cluster_min_replicas".to_owned(),
                    shape.min_replicas().to_string(),
                );
                for name in [
                    "appendonly",
                    "appendfsync",
                    "save",
                    "maxmemory",
                    "maxmemory-policy",
                ] {
                    let values =
                        per_primary(&mut conn, redis::cmd("CONFIG").arg("GET").arg(name).clone())
                            .await;
                    // "no" or an eviction policy on any primary is what matters.
                    let values: Vec<String> = values
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::Array(pair) => pair
                                .get(1)
                                .and_then(|v| redis::from_redis_value(v.clone()).ok()),
                            _ => None,
                        })
                        .collect();
                    let worst = match name {
                        "appendonly" => values.iter().find(|v| *v != "yes"),
                        "maxmemory" => values.iter().find(|v| *v == "0"),
                        "maxmemory-policy" => values.iter().find(|v| *v != "noeviction"),
                        _ => None,
                    }
                    .or(values.first());
                    if let Some(worst) = worst {
                        out.insert(name.to_owned(), worst.clone());
                    }
                }
                let (seconds, _micros): (String, String) = redis::cmd("TIME")
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                out.insert("time".to_owned(), seconds);
                Ok(out)
            })
            .await?;
        out.insert("topology".to_owned(), "cluster".to_owned());
        out.insert(
            "min_replicas_ack".to_owned(),
            self.min_replicas_ack().to_string(),
        );
        Ok(out)
    }

    /// Repairs what a crash between the steps of a write leaves behind (see
    /// the module docs): a listed id whose record is gone is removed, and a
    /// record its list lacks is added. Returns how many entries changed.
    pub(crate) async fn repair_indexes(&self) -> Result<u64> {
        let mut changed = 0;
        for (list, kind) in LISTS {
            let list_key = self.key(list);
            let listed = self
                .index_members("repair_indexes", list_key.clone())
                .await?;
            let records = self.scan_ids("repair_indexes", kind).await?;
            let records: std::collections::BTreeSet<String> = records.into_iter().collect();
            // Added first: a record deleted meanwhile is taken out again below.
            let missing: Vec<&String> = records.iter().filter(|id| !listed.contains(id)).collect();
            for id in missing {
                let score = self.list_score(kind, id).await?;
                let (key, member) = (list_key.clone(), id.clone());
                self.call("repair_indexes", |mut conn| async move {
                    redis::cmd("ZADD")
                        .arg(key)
                        .arg("NX")
                        .arg(score)
                        .arg(member)
                        .query_async::<()>(&mut conn)
                        .await
                        .map_err(redis_err)
                })
                .await?;
                tracing::warn!(event = "store_repaired", list = %list, id = %id, "listed a record a crashed write left out");
                changed += 1;
            }
            for id in listed.iter().filter(|id| !records.contains(*id)) {
                let record = self.tagged(kind, id);
                let (key, member) = (list_key.clone(), id.clone());
                let removed: bool = self
                    .call("repair_indexes", |mut conn| async move {
                        let exists: bool = redis::cmd("EXISTS")
                            .arg(record)
                            .query_async(&mut conn)
                            .await
                            .map_err(redis_err)?;
                        if exists {
                            return Ok(false);
                        }
                        redis::cmd("ZREM")
                            .arg(key)
                            .arg(member)
                            .query_async::<()>(&mut conn)
                            .await
                            .map_err(redis_err)?;
                        Ok(true)
                    })
                    .await?;
                if removed {
                    tracing::warn!(event = "store_repaired", list = %list, id = %id, "unlisted a record that is gone");
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// The score a record has in its list: signing keys sort by creation
    /// time, the rest by id (score 0).
    async fn list_score(&self, kind: &str, id: &str) -> Result<i64> {
        if kind != "key" {
            return Ok(0);
        }
        let key: store::SigningKey = self
            .load_one("repair_indexes", self.tagged(kind, id))
            .await?;
        Ok(key.created_at)
    }

    /// The ids of every `kind` record, by `SCAN` on each primary.
    async fn scan_ids(&self, op: &'static str, kind: &str) -> Result<Vec<String>> {
        let prefix = format!("{}{kind}:{{", self.prefix());
        let pattern = format!("{}*", glob_escape(&prefix));
        let keys: Vec<String> = self
            .call(op, |mut conn| async move {
                let Conn::Cluster(cluster, _) = &mut conn else {
                    return Ok(Vec::new());
                };
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(cluster)
                    .await
                    .map_err(redis_err)?;
                let mut keys = Vec::new();
                for (host, port) in Shape::parse(&nodes).primaries {
                    let mut cursor = 0u64;
                    loop {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let reply = cluster
                            .route_command(
                                redis::cmd("SCAN")
                                    .arg(cursor)
                                    .arg("MATCH")
                                    .arg(&pattern)
                                    .arg("COUNT")
                                    .arg(1000)
                                    .clone(),
                                routing,
                            )
                            .await
                            .map_err(redis_err)?;
                        let (next, page): (u64, Vec<String>) = redis::from_redis_value(reply)
                            .map_err(|e| store::Error::corrupt("unexpected SCAN reply", e))?;
                        keys.extend(page);
                        cursor = next;
                        if cursor == 0 {
                            break;
                        }
                    }
                }
                Ok(keys)
            })
            .await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                k.strip_prefix(&prefix)?
                    .strip_suffix('}')
                    .map(str::to_owned)
            })
            .collect())
    }
}

/// The hash slot of a key: CRC16 (XMODEM) of its hash tag, or of the
/// whole key when it has none, modulo 16384 (Redis Cluster specification,
/// "Keys distribution model").
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16384
}

/// The first key a command touches: the first of `KEYS` for a script,
/// else its first argument (every command this backend sends with a key
/// has it first).
pub(crate) fn first_key(cmd: &redis::Cmd) -> Option<&[u8]> {
    let mut args = cmd.args_iter().filter_map(|arg| match arg {
        redis::Arg::Simple(bytes) => Some(bytes),
        _ => None,
    });
    let name = args.next()?;
    // `SCRIPT LOAD` (sent on a cache miss) has no key.
    if name.eq_ignore_ascii_case(b"SCRIPT") {
        return None;
    }
    if name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL") {
        let _script = args.next()?;
        let keys = args.next()?;
        return (keys != b"0").then(|| args.next()).flatten();
    }
    args.next()
}

/// How often the cluster's shape is read for `/metrics`.
pub const CLUSTER_POLL: Duration = Duration::from_secs(5);

impl RedisStore {
    /// Reads `CLUSTER NODES` every [`CLUSTER_POLL`] while the store lives:
    /// sets `auth_redis_primaries` and `auth_redis_replicas`, and counts a
    /// change of the primaries serving slots as a failover (or a topology
    /// change an operator made), logged as `redis_cluster_changed`.
    pub(crate) fn watch_cluster(&self, mut conn: redis::cluster_async::ClusterConnection) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut last: Option<Vec<String>> = None;
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let store = RedisStore { inner };
                store.refresh_slot_map(&mut conn).await;
                let nodes = tokio::time::timeout(
                    store.timeout(),
                    redis::cmd("CLUSTER")
                        .arg("NODES")
                        .query_async::<String>(&mut conn),
                )
                .await;
                if let Ok(Ok(nodes)) = nodes {
                    let shape = Shape::parse(&nodes);
                    metrics::gauge!("auth_redis_primaries").set(shape.primaries.len() as f64);
                    metrics::gauge!("auth_redis_replicas").set(shape.replicas as f64);
                    let mut primaries: Vec<String> = shape
                        .primaries
                        .iter()
                        .map(|(host, port)| format!("{host}:{port}"))
                        .collect();
                    primaries.sort();
                    if last.as_ref().is_some_and(|l| *l != primaries) {
                        metrics::counter!("auth_redis_primary_changes_total").increment(1);
                        metrics::gauge!("auth_redis_last_failover_timestamp_seconds")
                            .set(store.now() as f64);
                        tracing::warn!(event = "redis_cluster_changed", primaries = %primaries.join(","), "the cluster's primaries changed");
                    }
                    last = Some(primaries);
                }
                // Sooner when a read met a `MOVED` (batch.rs), but not more
                // than ten times a second while slots move.
                let stale = std::sync::Arc::clone(&store.inner.slots_stale);
                drop(store);
                tokio::select! {
                    () = stale.notified() => tokio::time::sleep(CLUSTER_POLL / 50).await,
                    () = tokio::time::sleep(CLUSTER_POLL) => {}
                }
            }
        });
    }
}

/// Whether the cluster serves: a primary answers `PING` (three tries at
/// random primaries). One failed primary fails its own slots, not the
/// whole service, so it does not make a replica of the service unready
/// (with `cluster-require-full-coverage no`, docs/deployment.md).
pub(crate) async fn ping(cluster: &mut redis::cluster_async::ClusterConnection) -> Result<()> {
    let mut last = None;
    for _ in 0..3 {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
        match cluster.route_command(redis::cmd("PING"), routing).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || store::Error::Unavailable {
            message: "no cluster primary answered".into(),
            source: None,
        },
        redis_err,
    ))
}

/// Sends `cmd` to every primary; the replies, one per primary (a primary
/// that refuses, e.g. a managed service denying `CONFIG`, is left out).
async fn per_primary(conn: &mut Conn, cmd: redis::Cmd) -> Vec<Value> {
    let Conn::Cluster(cluster, _) = conn else {
        return Vec::new();
    };
    let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    match cluster.route_command(cmd, routing).await {
        Ok(Value::Map(pairs)) => pairs
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Value::ServerError(_)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Escapes `SCAN MATCH` glob characters.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The cluster's primaries and replicas, from `CLUSTER NODES`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    /// `(host, port)` of each primary that serves slots.
    primaries: Vec<(String, u16)>,
    /// Node ids of those primaries, in the same order.
    ids: Vec<String>,
    /// How many replicas each primary id has.
    replicas_of: BTreeMap<String, usize>,
    replicas: usize,
}

impl Shape {
    fn parse(nodes: &str) -> Self {
        let mut shape = Self::default();
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [id, addr, flags, primary_of, ..] = fields.as_slice() else {
                continue;
            };
            if flags.contains("fail") && !flags.contains("fail?") {
                continue;
            }
            // `host:port@cport[,hostname]`.
            let addr = addr.split(['@', ',']).next().unwrap_or_default();
            let Some((host, port)) = addr.rsplit_once(':') else {
                continue;
            };
            if flags.contains("master") && fields.len() > 8 {
                if let Ok(port) = port.parse() {
                    shape.primaries.push((host.to_owned(), port));
                    shape.ids.push((*id).to_owned());
                }
            } else if flags.contains("slave") {
                shape.replicas += 1;
                *shape
                    .replicas_of
                    .entry((*primary_of).to_owned())
                    .or_default() += 1;
            }
        }
        shape
    }

    /// The fewest replicas any primary has.
    fn min_replicas(&self) -> usize {
        self.ids
            .iter()
            .map(|id| self.replicas_of.get(id).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    /// `host:port` of each primary that has no replica.
    fn without_replica(&self) -> Vec<String> {
        self.primaries
            .iter()
            .zip(&self.ids)
            .filter(|(_, id)| self.replicas_of.get(*id).copied().unwrap_or(0) == 0)
            .map(|((host, port), _)| format!("{host}:{port}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Shape;

    #[test]
    fn slots_follow_the_hash_tag() {
        // The specification's examples: "{user1000}.following" and
        // "{user1000}.followers" share a slot; "foo{}{bar}" hashes whole.
        // CRC16-XMODEM of "123456789" is 0x31C3 (the specification's check value).
        assert_eq!(super::slot(b"123456789"), 0x31C3);
        assert_eq!(
            super::slot(b"{user1000}.following"),
            super::slot(b"user1000")
        );
        assert_eq!(
            super::slot(b"user:{u-1}"),
            super::slot(b"idx:consents:{u-1}")
        );
        assert_eq!(super::slot(b"foo{}{bar}"), super::slot(b"foo{}{bar}"));
        assert_ne!(super::slot(b"foo{}{bar}"), super::slot(b"bar"));
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg("abc").arg(1).arg("user:{u-1}").arg("x");
        assert_eq!(super::first_key(&cmd), Some(&b"user:{u-1}"[..]));
        assert_eq!(
            super::first_key(redis::cmd("HGET").arg("k").arg("f")),
            Some(&b"k"[..])
        );
    }

    #[test]
    fn cluster_nodes_give_primaries_with_slots_and_their_replicas() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 slave b2 0 0 2 connected
f6 127.0.0.1:7005@17005 master,fail - 0 0 4 disconnected
";
        let shape = Shape::parse(nodes);
        assert_eq!(shape.primaries.len(), 3);
        assert_eq!(shape.replicas, 2);
        assert_eq!(shape.without_replica(), ["127.0.0.1:7002"]);
    }
}
