//! Reads of many keys on a Redis Cluster, one pipeline per node.
//!
//! A SCIM list page reads ten user records and ten member indexes, each in
//! its own slot. Sent one command at a time through the cluster client,
//! each read pays its own routing, channel hops and socket write, and the
//! page cost a third more than on one Redis, where one script reads them
//! all (`scripts/cluster-load`). No script or `MULTI` may span slots, but a
//! plain pipeline may hold commands for many slots of one node: each
//! command in it is answered on its own. So reads are grouped by the node
//! that serves their slot, per the map `CLUSTER SLOTS` gives, and each
//! group goes to that node's address as one pipeline.
//!
//! The map may be stale after a failover or a reshard. A node that does
//! not serve a slot answers that command with `MOVED` (or `ASK`, while the
//! slot migrates), which the client reports as the error of the whole
//! pipeline; every command of a pipeline that failed, and any command
//! answered with an error of its own, is then sent again on its own through
//! the client's routing, which follows the redirect. A failed pipeline also
//! has the map read again (test
//! `batched_reads_follow_a_slot_that_moved_under_a_stale_map` in
//! `tests/conformance_cluster.rs`). So a stale map costs time, never a wrong answer: every key is
//! read from the node that serves its slot at the time. Only reads go this
//! way; writes are single commands or single-slot scripts.

use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{Cmd, FromRedisValue, Value};
use store::{Error, Result};

use super::{first_key, slot};
use crate::{Conn, RedisStore, redis_err};

/// Which node serves each slot, from `CLUSTER SLOTS`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SlotMap {
    /// `(first slot, last slot, index in nodes)`, sorted by first slot.
    ranges: Vec<(u16, u16, usize)>,
    /// `(host, port)` of each primary, as the cluster announces it.
    nodes: Vec<(String, u16)>,
}

impl SlotMap {
    /// Parses a `CLUSTER SLOTS` reply: per range `[first, last, [host,
    /// port, id, …], replicas…]`. A range whose primary has no usable
    /// address (an empty or `?` host) is left out; its reads are routed one
    /// by one.
    pub(crate) fn parse(reply: &Value) -> Self {
        let mut map = Self::default();
        let Value::Array(ranges) = reply else {
            return map;
        };
        for range in ranges {
            let Value::Array(fields) = range else {
                continue;
            };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(primary))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                continue;
            };
            let host = match primary.first() {
                Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
                Some(Value::SimpleString(host)) => host.clone(),
                _ => continue,
            };
            let (Some(Value::Int(port)), Ok(first), Ok(last)) =
                (primary.get(1), u16::try_from(*first), u16::try_from(*last))
            else {
                continue;
            };
            let Ok(port) = u16::try_from(*port) else {
                continue;
            };
            if host.is_empty() || host == "?" {
                continue;
            }
            let node = match map.nodes.iter().position(|n| n.0 == host && n.1 == port) {
                Some(node) => node,
                None => {
                    map.nodes.push((host, port));
                    map.nodes.len() - 1
                }
            };
            map.ranges.push((first, last, node));
        }
        map.ranges.sort_unstable();
        map
    }

    /// The node serving `slot`, if the map knows it.
    fn node_of(&self, slot: u16) -> Option<usize> {
        let at = self
            .ranges
            .partition_point(|r| r.0 <= slot)
            .checked_sub(1)?;
        let (_, last, node) = self.ranges[at];
        (slot <= last).then_some(node)
    }
}

impl RedisStore {
    /// The slot map, once the cluster watcher has read it.
    fn slot_map(&self) -> Option<std::sync::Arc<SlotMap>> {
        self.inner
            .slots
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the slot map now (at connect, after a `MOVED`, and on every
    /// poll of the watcher).
    pub(crate) async fn refresh_slot_map(
        &self,
        conn: &mut redis::cluster_async::ClusterConnection,
    ) {
        let reply = tokio::time::timeout(
            self.timeout(),
            redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async::<Value>(conn),
        )
        .await;
        if let Ok(Ok(reply)) = reply {
            let map = SlotMap::parse(&reply);
            *self
                .inner
                .slots
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                (!map.ranges.is_empty()).then(|| std::sync::Arc::new(map));
        }
    }

    /// Runs read commands, each on one key, as one store call: one pipeline
    /// per node (module docs). Answers in order.
    pub(crate) async fn read_across_slots<T: FromRedisValue + Send + 'static>(
        &self,
        op: &'static str,
        cmds: Vec<Cmd>,
    ) -> Result<Vec<T>> {
        let map = match self.slot_map() {
            Some(map) if cmds.len() > 1 => map,
            _ => return self.each(op, cmds).await,
        };
        let values = self
            .call(op, |conn| async move {
                let Conn::Cluster(cluster, _) = conn else {
                    return Err(Error::Unavailable {
                        message: format!("{op}: not a cluster connection"),
                        source: None,
                    });
                };
                batched(&cluster, &map, &cmds, || self.slots_moved()).await
            })
            .await?;
        values
            .into_iter()
            .map(|v| {
                redis::from_redis_value(v)
                    .map_err(|e| Error::corrupt(format!("{op}: an unexpected reply"), e))
            })
            .collect()
    }

    /// Whether reads across slots go as one pipeline per node (a slot map
    /// is known); for tests.
    #[doc(hidden)]
    pub fn batches_reads(&self) -> bool {
        self.slot_map().is_some()
    }

    /// A node answered `MOVED`: the map is read again soon.
    fn slots_moved(&self) {
        self.inner.slots_stale.notify_one();
    }
}

/// [`RedisStore::read_across_slots`] on one connection.
async fn batched(
    cluster: &redis::cluster_async::ClusterConnection,
    map: &SlotMap,
    cmds: &[Cmd],
    moved: impl Fn(),
) -> Result<Vec<Value>> {
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); map.nodes.len()];
    let mut again = Vec::new();
    for (at, cmd) in cmds.iter().enumerate() {
        match first_key(cmd).and_then(|key| map.node_of(slot(key))) {
            Some(node) => groups[node].push(at),
            None => again.push(at),
        }
    }
    let sends = groups
        .iter()
        .zip(&map.nodes)
        .filter(|(group, _)| !group.is_empty())
        .map(|(group, (host, port))| {
            let mut pipe = redis::pipe();
            for &at in group {
                pipe.add_command(cmds[at].clone());
            }
            let route = SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port: *port,
            };
            let mut cluster = cluster.clone();
            async move {
                let answer = cluster.route_pipeline(pipe, 0, group.len(), route).await;
                (group, answer)
            }
        });
    let mut out = vec![Value::Nil; cmds.len()];
    let mut stale = false;
    for (group, answer) in futures_util::future::join_all(sends).await {
        match answer {
            Ok(values) if values.len() == group.len() => {
                for (&at, value) in group.iter().zip(values) {
                    match value {
                        Value::ServerError(_) => again.push(at),
                        value => out[at] = value,
                    }
                }
            }
            _ => {
                stale = true;
                again.extend(group);
            }
        }
    }
    if stale {
        moved();
    }
    let resends = again.iter().map(|&at| {
        let mut cluster = cluster.clone();
        async move { cmds[at].query_async::<Value>(&mut cluster).await }
    });
    let resent = futures_util::future::try_join_all(resends)
        .await
        .map_err(redis_err)?;
    for (at, value) in again.into_iter().zip(resent) {
        out[at] = value;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::SlotMap;

    fn range(first: i64, last: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(first),
            Value::Int(last),
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ]),
        ])
    }

    #[test]
    fn the_slot_map_names_the_node_of_each_slot() {
        let reply = Value::Array(vec![
            range(5461, 10922, "10.0.0.2", 6379),
            range(0, 5460, "10.0.0.1", 6379),
            range(10923, 16000, "10.0.0.1", 6379),
        ]);
        let map = SlotMap::parse(&reply);
        assert_eq!(map.nodes.len(), 2, "one entry per node: {map:?}");
        let host = |slot| map.node_of(slot).map(|n| map.nodes[n].0.as_str());
        assert_eq!(host(0), Some("10.0.0.1"));
        assert_eq!(host(5460), Some("10.0.0.1"));
        assert_eq!(host(5461), Some("10.0.0.2"));
        assert_eq!(host(10922), Some("10.0.0.2"));
        assert_eq!(host(12000), Some("10.0.0.1"));
        assert_eq!(host(16001), None, "an unserved slot has no node");
    }

    #[test]
    fn a_range_without_a_usable_address_is_left_to_routing() {
        let reply = Value::Array(vec![
            range(0, 100, "", 6379),
            range(101, 200, "?", 6379),
            Value::Int(3),
            range(201, 300, "h", 6379),
        ]);
        let map = SlotMap::parse(&reply);
        assert_eq!(map.node_of(50), None);
        assert_eq!(map.node_of(150), None);
        assert_eq!(map.node_of(250), Some(0));
        assert_eq!(SlotMap::parse(&Value::Nil), SlotMap::default());
    }
}
