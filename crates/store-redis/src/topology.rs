//! Where the Redis backend finds its data: one Redis at a fixed address
//! (`redis://`, `rediss://`), the primary a set of Sentinels names
//! (`redis+sentinel://`, `rediss+sentinel://`), found again after a
//! failover, or a Redis Cluster found from seed nodes (`redis+cluster://`,
//! `rediss+cluster://`).
//!
//! The Sentinel form lists the Sentinels, then the service name and an
//! optional database:
//! `redis+sentinel://[user:pass@]host:port[,host:port…]/SERVICE_NAME[/DB]`.
//! The credentials in the URL are the data nodes'; the Sentinels' own, if
//! they have any, are given apart ([`SentinelAuth`]), since the two are
//! configured separately on the Redis side.
//!
//! The Cluster form lists seed nodes only:
//! `redis+cluster://[user:pass@]host:port[,host:port…]`; the client learns
//! the rest of the cluster from them. One scheme covers every seed, so TLS
//! is all or nothing; a seed written with its own scheme is refused.

use redis::ConnectionAddr;

/// The default Sentinel port.
const SENTINEL_PORT: u16 = 26379;
/// The default Redis port.
const REDIS_PORT: u16 = 6379;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One Redis: the URL as given.
    Single(String),
    Sentinel(SentinelTarget),
    Cluster(ClusterTarget),
}

/// The Sentinels and what to ask them for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    pub sentinels: Vec<(String, u16)>,
    pub service: String,
    pub db: i64,
    /// TLS to the Sentinels and the data nodes (`rediss+sentinel://`).
    pub tls: bool,
    /// The data nodes' credentials.
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The seed nodes of a Redis Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub seeds: Vec<(String, u16)>,
    /// TLS to every node (`rediss+cluster://`).
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The Sentinels' credentials, when they differ from none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentinelAuth {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `[user:pass@]host:port[,host:port…]`, parsed.
struct Authority {
    hosts: Vec<(String, u16)>,
    username: Option<String>,
    password: Option<String>,
}

impl Authority {
    fn parse(authority: &str, default_port: u16) -> Result<Self, String> {
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => {
                let (user, pass) = match userinfo.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (userinfo, None),
                };
                let decode = |s: &str| {
                    percent_decode(s).ok_or("the credentials are not valid percent-encoding")
                };
                let user = decode(user)?;
                (
                    (!user.is_empty()).then_some(user),
                    pass.map(decode).transpose()?,
                )
            }
        };
        let hosts = hosts
            .split(',')
            .map(|entry| host_port(entry, default_port))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            hosts,
            username,
            password,
        })
    }
}

impl Topology {
    /// Parses a store URL; the error says what is wrong, never echoing a
    /// password.
    pub fn parse(url: &str) -> Result<Self, String> {
        for (scheme, tls) in [("redis+cluster://", false), ("rediss+cluster://", true)] {
            if let Some(rest) = url.strip_prefix(scheme) {
                return ClusterTarget::parse(rest, tls).map(Self::Cluster);
            }
        }
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
            (true, rest)
        } else {
            redis::Client::open(url).map_err(|e| e.to_string())?;
            return Ok(Self::Single(url.to_owned()));
        };
        let (authority, path) = rest.split_once('/').ok_or(
            "a Sentinel URL names the service: redis+sentinel://host:port[,host:port]/SERVICE_NAME[/DB]",
        )?;
        if path.contains('?') || path.contains('#') {
            return Err("a Sentinel URL takes no query or fragment".into());
        }
        let Authority {
            hosts: sentinels,
            username,
            password,
        } = Authority::parse(authority, SENTINEL_PORT)?;
        let (service, db) = match path.split_once('/') {
            Some((service, db)) => (
                service,
                db.parse::<i64>()
                    .ok()
                    .filter(|db| *db >= 0)
                    .ok_or_else(|| format!("{db:?} is not a database number"))?,
            ),
            None => (path, 0),
        };
        if service.is_empty() {
            return Err("the Sentinel service name is empty".into());
        }
        Ok(Self::Sentinel(SentinelTarget {
            sentinels,
            service: service.to_owned(),
            db,
            tls,
            username,
            password,
        }))
    }
}

impl ClusterTarget {
    fn parse(rest: &str, tls: bool) -> Result<Self, String> {
        if rest.contains("://") {
            return Err(
                "list cluster seeds as host:port after one scheme; TLS for every node is rediss+cluster://"
                    .into(),
            );
        }
        // A cluster has database 0 only; a trailing `/` or `/0` is allowed.
        let authority = match rest.split_once('/') {
            None => rest,
            Some((authority, "" | "0")) => authority,
            Some(_) => {
                return Err(
                    "a cluster URL lists seed nodes only: redis+cluster://host:port[,host:port] (a cluster has database 0 only)"
                        .into(),
                );
            }
        };
        let Authority {
            hosts,
            username,
            password,
        } = Authority::parse(authority, REDIS_PORT)?;
        Ok(Self {
            seeds: hosts,
            tls,
            username,
            password,
        })
    }

    /// The seeds' addresses, for the redis client (credentials and TLS
    /// go to its builder).
    pub(crate) fn addresses(&self) -> Vec<ConnectionAddr> {
        addresses(&self.seeds, self.tls)
    }

    /// The URL without credentials, for logs and `doctor`.
    pub fn redacted(&self) -> String {
        let hosts: Vec<String> = self.seeds.iter().map(show).collect();
        let scheme = if self.tls {
            "rediss+cluster"
        } else {
            "redis+cluster"
        };
        format!("{scheme}://{}", hosts.join(","))
    }
}

/// `host:port`, `host` (the default port), or `[v6]:port`.
fn host_port(entry: &str, default_port: u16) -> Result<(String, u16), String> {
    let entry = entry.trim();
    let (host, port) = if let Some(v6) = entry.strip_prefix('[') {
        let (host, rest) = v6
            .split_once(']')
            .ok_or_else(|| format!("{entry:?}: unclosed IPv6 bracket"))?;
        (host, rest.strip_prefix(':'))
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{entry:?}: the address has no host"));
    }
    let port = match port {
        None => default_port,
        Some(port) => port
            .parse()
            .map_err(|_| format!("{entry:?}: the port is not a number"))?,
    };
    Ok((host.to_owned(), port))
}

/// `host:port`, with an IPv6 host in brackets.
fn show((host, port): &(String, u16)) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn addresses(hosts: &[(String, u16)], tls: bool) -> Vec<ConnectionAddr> {
    hosts
        .iter()
        .map(|(host, port)| {
            if tls {
                ConnectionAddr::TcpTls {
                    host: host.clone(),
                    port: *port,
                    insecure: false,
                    tls_params: None,
                }
            } else {
                ConnectionAddr::Tcp(host.clone(), *port)
            }
        })
        .collect()
}

/// URL percent-decoding (RFC 3986 §2.1). `percent_decode_str` passes a
/// malformed escape through as text; a credential that has one is refused
/// instead, so a typo does not become a different password.
fn percent_decode(input: &str) -> Option<String> {
    let well_formed = input.match_indices('%').all(|(i, _)| {
        input
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(input)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

impl SentinelTarget {
    /// The Sentinels' addresses, for the redis client.
    pub(crate) fn addresses(&self) -> Vec<ConnectionAddr> {
        addresses(&self.sentinels, self.tls)
    }

    /// The URL without credentials, for logs and `doctor`.
    pub fn redacted(&self) -> String {
        let hosts: Vec<String> = self.sentinels.iter().map(show).collect();
        let scheme = if self.tls {
            "rediss+sentinel"
        } else {
            "redis+sentinel"
        };
        format!(
            "{scheme}://{}/{}/{}",
            hosts.join(","),
            self.service,
            self.db
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(url: &str) -> SentinelTarget {
        match Topology::parse(url).unwrap() {
            Topology::Sentinel(target) => target,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sentinel_urls_name_the_sentinels_the_service_and_the_db() {
        let t = sentinel("redis+sentinel://10.0.0.1:26379,10.0.0.2,[::1]:5000/mymaster");
        assert_eq!(
            t.sentinels,
            vec![
                ("10.0.0.1".into(), 26379),
                ("10.0.0.2".into(), 26379),
                ("::1".into(), 5000)
            ]
        );
        assert_eq!((t.service.as_str(), t.db, t.tls), ("mymaster", 0, false));
        let t = sentinel("rediss+sentinel://auth:p%40ss%3Aword@s1:1/auth-primary/3");
        assert_eq!(t.username.as_deref(), Some("auth"));
        assert_eq!(t.password.as_deref(), Some("p@ss:word"));
        assert_eq!((t.db, t.tls), (3, true));
        assert_eq!(t.redacted(), "rediss+sentinel://s1:1/auth-primary/3");
        let t = sentinel("redis+sentinel://:secret@s1:1/m");
        assert_eq!((t.username, t.password.as_deref()), (None, Some("secret")));
    }

    #[test]
    fn bad_sentinel_urls_say_why_without_the_password() {
        for (url, needle) in [
            ("redis+sentinel://s1:1", "names the service"),
            ("redis+sentinel://s1:1/", "service name is empty"),
            ("redis+sentinel://s1:x/m", "port is not a number"),
            ("redis+sentinel://s1:1/m/-1", "not a database number"),
            ("redis+sentinel://s1:1/m?x=1", "no query"),
            ("redis+sentinel://u:%zz@s1:1/m", "percent-encoding"),
            ("redis+sentinel://[::1:1/m", "unclosed"),
        ] {
            let e = Topology::parse(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("%zz"));
        }
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/0").unwrap(),
            Topology::Single("redis://127.0.0.1:6379/0".into())
        );
        assert!(Topology::parse("http://x").is_err());
    }

    #[test]
    fn cluster_urls_list_seed_nodes_only() {
        let Topology::Cluster(t) =
            Topology::parse("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002/").unwrap()
        else {
            panic!("not a cluster URL")
        };
        assert_eq!(
            t.seeds,
            vec![
                ("10.0.0.1".into(), 7000),
                ("10.0.0.2".into(), 6379),
                ("::1".into(), 7002)
            ]
        );
        assert_eq!(
            (t.username.as_deref(), t.password.as_deref(), t.tls),
            (Some("u"), Some("p@ss"), false)
        );
        assert_eq!(
            t.redacted(),
            "redis+cluster://10.0.0.1:7000,10.0.0.2:6379,[::1]:7002"
        );
        let Topology::Cluster(t) = Topology::parse("rediss+cluster://h:1").unwrap() else {
            panic!("not a cluster URL")
        };
        assert!(t.tls);
        for (url, needle) in [
            ("redis+cluster://h:1,rediss://h:2", "one scheme"),
            ("redis+cluster://h:1/3", "database 0 only"),
            ("redis+cluster://h:x", "port is not a number"),
            ("redis+cluster://:secret@,h:1", "no host"),
        ] {
            let e = Topology::parse(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
