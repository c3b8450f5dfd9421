//! `auth-service doctor [--json]`: the runbook's diagnosis in one command.
//! Each check says ok, warn or fail, what it saw, and for a problem the
//! runbook step that fixes it (`docs/runbook.md`). Read-only: it changes
//! nothing in the store. Exit 0 when nothing failed (warnings allowed), 1
//! otherwise.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};
use store::{Clock, KeyState, SigningKey, SystemClock};

use super::{CliError, Context, print_json};
use crate::config::{Config, StoreUrl, seconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(
    name: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: Option<&str>,
) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// Allowed difference between this host's clock and the store's or the
/// issuer's: tokens carry `iat`/`exp`, and relying parties allow a few
/// seconds at most.
const MAX_SKEW_SECONDS: i64 = 5;

pub async fn run(ctx: Context, json_output: bool) -> Result<(), CliError> {
    let now = SystemClock.now();
    let mut checks = vec![configuration(&ctx.config)];
    let started = Instant::now();
    let reachable = ctx.store.ping().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &reachable {
        Ok(()) => checks.push(check(
            "store",
            if latency_ms > 100.0 {
                Status::Warn
            } else {
                Status::Ok
            },
            format!("{} answers in {latency_ms:.1} ms", ctx.store.backend()),
            (latency_ms > 100.0)
                .then_some("runbook: \"Slow responses\" — check the store's load and network"),
        )),
        Err(e) => checks.push(check(
            "store",
            Status::Fail,
            format!("{} does not answer: {e}", ctx.store.backend()),
            Some("runbook: \"Redis down\" — redis-cli ping; check AUTH_STORE and the network"),
        )),
    }
    if reachable.is_ok() {
        checks.push(persistence(&ctx, now).await);
        if let Some(memory) = memory(&ctx).await {
            checks.push(memory);
        }
        if let Some(topology) = topology(&ctx).await {
            checks.push(topology);
        }
        checks.push(signing_keys(&ctx, now).await);
    }
    checks.extend(issuer(&ctx.config, now).await);
    checks.push(passkeys(&ctx));

    let healthy = checks.iter().all(|c| c.status != Status::Fail);
    if json_output {
        print_json(&json!({"healthy": healthy, "issuer": ctx.config.issuer, "checks": checks}))?;
    } else {
        println!(
            "auth-service doctor: {} ({})",
            ctx.config.issuer,
            ctx.store.backend()
        );
        for c in &checks {
            let label = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            println!("  {label}  {:<14} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("        {:<14} fix: {fix}", "");
            }
        }
        let problems = checks.iter().filter(|c| c.status != Status::Ok).count();
        println!(
            "{}",
            if healthy && problems == 0 {
                "healthy".to_owned()
            } else if healthy {
                format!("healthy, {problems} warning(s)")
            } else {
                format!("NOT healthy: {problems} problem(s)")
            }
        );
    }
    if healthy {
        Ok(())
    } else {
        Err(CliError {
            code: 1,
            message: "doctor found problems".into(),
        })
    }
}

fn configuration(config: &Config) -> Check {
    if !config.issuer.starts_with("https://") {
        return check(
            "configuration",
            Status::Warn,
            format!("valid; the issuer {} is not https", config.issuer),
            Some("runbook: \"Configuration\" — set AUTH_ISSUER to the public https URL"),
        );
    }
    check("configuration", Status::Ok, "valid", None)
}

/// The WebAuthn relying party passkeys are bound to, or why there is none.
fn passkeys(ctx: &Context) -> Check {
    #[cfg(feature = "passkeys")]
    if let Some(rp) = &ctx.passkeys {
        return check(
            "passkeys",
            Status::Ok,
            format!("RP id {}", rp.rp_id()),
            None,
        );
    }
    let why = if cfg!(feature = "passkeys") {
        "off: the issuer's host is an IP address, which WebAuthn has no RP id for"
    } else {
        "off: this build has no passkeys feature"
    };
    let _ = ctx;
    check(
        "passkeys",
        Status::Warn,
        why,
        Some("runbook: \"Sign-in factors\" — give AUTH_ISSUER a domain name"),
    )
}

async fn persistence(ctx: &Context, now: i64) -> Check {
    let settings = match ctx.store.diagnostics().await {
        Ok(settings) => settings,
        Err(e) => {
            return check(
                "persistence",
                Status::Warn,
                format!("cannot read the store's settings: {e}"),
                None,
            );
        }
    };
    match &ctx.config.store {
        StoreUrl::Sqlite(path) => {
            let mode = settings.get("journal_mode").cloned().unwrap_or_default();
            check(
                "persistence",
                if mode == "wal" {
                    Status::Ok
                } else {
                    Status::Warn
                },
                format!("SQLite at {} (journal_mode {mode})", path.display()),
                None,
            )
        }
        StoreUrl::Redis(_) => {
            let skew = settings
                .get("time")
                .and_then(|t| t.parse::<i64>().ok())
                .map(|t| t - now);
            let aof = settings.get("appendonly").map(String::as_str);
            let fsync = settings
                .get("appendfsync")
                .map(String::as_str)
                .unwrap_or("?");
            let save = settings.get("save").map(String::as_str).unwrap_or("?");
            let mut c = match aof {
                Some("yes") => check(
                    "persistence",
                    Status::Ok,
                    format!("AOF on (appendfsync {fsync}), RDB save \"{save}\""),
                    None,
                ),
                Some(_) => check(
                    "persistence",
                    Status::Warn,
                    format!(
                        "AOF is off (RDB save \"{save}\"): a Redis restart loses everything since the last snapshot"
                    ),
                    Some(
                        "runbook: \"Redis durability\" — redis-cli CONFIG SET appendonly yes; CONFIG SET appendfsync everysec; CONFIG REWRITE",
                    ),
                ),
                None => check(
                    "persistence",
                    Status::Warn,
                    "Redis does not allow CONFIG GET: persistence unknown",
                    Some("runbook: \"Redis durability\" — confirm AOF with your Redis provider"),
                ),
            };
            if let Some(skew) = skew
                && skew.abs() > MAX_SKEW_SECONDS
            {
                c.status = Status::Warn;
                c.detail.push_str(&format!(
                    "; Redis's clock differs from this host's by {skew} s"
                ));
                c.fix = Some("runbook: \"Clock\" — run NTP (chrony) on every host".into());
            }
            c
        }
    }
}

/// Redis's memory bound: without `maxmemory` a flood of keys (rate-limit
/// buckets, lockout records) grows until the host kills Redis; with an
/// evicting policy Redis silently drops users, clients or keys. `None` on
/// SQLite.
async fn memory(ctx: &Context) -> Option<Check> {
    if !matches!(ctx.config.store, StoreUrl::Redis(_)) {
        return None;
    }
    let settings = ctx.store.diagnostics().await.ok()?;
    let maxmemory = settings.get("maxmemory").map(String::as_str);
    let policy = settings.get("maxmemory-policy").map(String::as_str);
    let fix = "runbook: \"Redis memory\" — redis-cli CONFIG SET maxmemory 768mb; CONFIG SET maxmemory-policy noeviction; CONFIG REWRITE";
    Some(match (maxmemory, policy) {
        (None, _) | (_, None) => check(
            "memory",
            Status::Warn,
            "Redis does not allow CONFIG GET: maxmemory unknown",
            Some("runbook: \"Redis memory\" — confirm maxmemory and noeviction with your provider"),
        ),
        (Some("0"), _) => check(
            "memory",
            Status::Warn,
            "Redis has no maxmemory: a flood of keys grows it until the host kills it",
            Some(fix),
        ),
        (Some(_), Some(policy)) if policy != "noeviction" => check(
            "memory",
            Status::Warn,
            format!("maxmemory-policy is {policy}: Redis may evict users, clients or keys"),
            Some(fix),
        ),
        (Some(bytes), Some(_)) => check(
            "memory",
            Status::Ok,
            format!("maxmemory {bytes} bytes, noeviction"),
            None,
        ),
    })
}

/// Redis's topology: behind Sentinel, a quorum that can authorize a
/// failover and a replica to fail over to; on any topology, enough
/// replicas for `AUTH_REDIS_MIN_REPLICAS_ACK` (otherwise every durable
/// write is refused). `None` on SQLite.
async fn topology(ctx: &Context) -> Option<Check> {
    if !matches!(ctx.config.store, StoreUrl::Redis(_)) {
        return None;
    }
    let settings = ctx.store.diagnostics().await.ok()?;
    let get = |name: &str| settings.get(name).map(String::as_str);
    if get("topology") == Some("cluster") {
        return Some(cluster_topology(&get, ctx.config.redis_min_replicas_ack));
    }
    let Some(replicas) = get("connected_replicas").and_then(|n| n.parse::<u32>().ok()) else {
        return Some(check(
            "topology",
            Status::Warn,
            "Redis does not answer INFO replication: replicas unknown",
            Some("runbook: \"Redis replicas\" — allow +info for the service's Redis user"),
        ));
    };
    let wanted = ctx.config.redis_min_replicas_ack;
    let primary = get("primary").unwrap_or("?");
    if replicas < wanted {
        return Some(check(
            "topology",
            Status::Fail,
            format!(
                "{primary} has {replicas} replica(s); AUTH_REDIS_MIN_REPLICAS_ACK={wanted} refuses every durable write"
            ),
            Some(
                "runbook: \"Redis replicas\" — start the replicas, or lower AUTH_REDIS_MIN_REPLICAS_ACK",
            ),
        ));
    }
    Some(match get("topology") {
        Some("sentinel") => {
            let quorum = get("sentinel_quorum").unwrap_or("NOQUORUM unknown");
            if !quorum.starts_with("OK") {
                check(
                    "topology",
                    Status::Fail,
                    format!("the Sentinels cannot fail over: {quorum}"),
                    Some(
                        "runbook: \"Redis replicas\" — run an odd number (3+) of Sentinels that reach each other",
                    ),
                )
            } else if replicas == 0 {
                check(
                    "topology",
                    Status::Warn,
                    format!("primary {primary} has no replica: a failover has nowhere to go"),
                    Some("runbook: \"Redis replicas\" — start a replica of the primary"),
                )
            } else {
                check(
                    "topology",
                    Status::Ok,
                    format!("Sentinel: primary {primary} with {replicas} replica(s); {quorum}"),
                    None,
                )
            }
        }
        _ => check(
            "topology",
            Status::Ok,
            format!("one Redis ({primary}) with {replicas} replica(s)"),
            None,
        ),
    })
}

/// A Redis Cluster's shape: every slot served, every primary with a
/// replica to fail over to, and enough of them for
/// `AUTH_REDIS_MIN_REPLICAS_ACK` (`WAIT` counts on every primary).
fn cluster_topology<'a>(get: &impl Fn(&str) -> Option<&'a str>, wanted: u32) -> Check {
    let state = get("cluster_state").unwrap_or("unknown");
    let slots = get("cluster_slots_ok").unwrap_or("0");
    let primaries = get("cluster_primaries").unwrap_or("?");
    let replicas = get("cluster_replicas").unwrap_or("?");
    let fewest: u32 = get("cluster_min_replicas")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let lonely = get("cluster_primaries_without_replica").unwrap_or_default();
    if state != "ok" || slots != "16384" {
        return check(
            "topology",
            Status::Fail,
            format!("cluster_state {state}: {slots} of 16384 slots served"),
            Some("runbook: \"Redis Cluster\" — redis-cli --cluster check, then --cluster fix"),
        );
    }
    if fewest < wanted {
        return check(
            "topology",
            Status::Fail,
            format!(
                "a primary has {fewest} replica(s); AUTH_REDIS_MIN_REPLICAS_ACK={wanted} refuses every durable write"
            ),
            Some(
                "runbook: \"Redis Cluster\" — add replicas (redis-cli --cluster add-node --cluster-slave)",
            ),
        );
    }
    if !lonely.is_empty() {
        return check(
            "topology",
            Status::Warn,
            format!("primaries without a replica: {lonely}; their slots fail when they do"),
            Some(
                "runbook: \"Redis Cluster\" — add a replica to each (redis-cli --cluster add-node --cluster-slave)",
            ),
        );
    }
    check(
        "topology",
        Status::Ok,
        format!(
            "Redis Cluster: {primaries} primaries, {replicas} replicas, all 16384 slots served"
        ),
        None,
    )
}

async fn signing_keys(ctx: &Context, now: i64) -> Check {
    let keys = match ctx.store.list_keys().await {
        Ok(keys) => keys,
        Err(e) => {
            return check(
                "signing keys",
                Status::Fail,
                format!("cannot list: {e}"),
                None,
            );
        }
    };
    let signing = |alg: &str| -> Option<&SigningKey> {
        keys.iter()
            .filter(|k| k.alg == alg)
            .filter(|k| match k.state {
                KeyState::Active => true,
                KeyState::Pending => k.activates_at <= now,
                KeyState::Retired => false,
            })
            .max_by_key(|k| k.activates_at)
    };
    let planned = seconds(ctx.config.key_rotation_interval);
    let mut parts = Vec::new();
    let mut status = Status::Ok;
    let mut fix = None;
    for alg in ["ES256", "RS256"] {
        match signing(alg) {
            Some(key) => {
                let age = now - key.activates_at.min(now);
                parts.push(format!(
                    "{alg} {} active for {}",
                    key.kid,
                    humantime::format_duration(Duration::from_secs(age.unsigned_abs()))
                ));
                // A day past the plan: no replica is rotating.
                if age > planned + 86_400 {
                    status = status.max(Status::Warn);
                    fix = Some("runbook: \"Signing key older than planned\" — auth-service keys rotate; check that a replica runs".to_owned());
                }
            }
            None => {
                parts.push(format!("no active {alg} key"));
                status = Status::Fail;
                fix = Some("runbook: \"No signing key\" — start a replica (it creates keys) or run auth-service keys rotate".to_owned());
            }
        }
    }
    Check {
        name: "signing keys",
        status,
        detail: parts.join("; "),
        fix,
    }
}

/// The JWKS at the public issuer URL, and the clock against its `Date`.
async fn issuer(config: &Config, now: i64) -> Vec<Check> {
    let url = format!("{}/jwks.json", config.issuer);
    let fix = "runbook: \"JWKS unreachable\" — curl the issuer's /jwks.json; check DNS, the ingress and AUTH_ISSUER";
    let fetched = tokio::time::timeout(Duration::from_secs(5), fetch(&url)).await;
    let (status, date, body) = match fetched {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            return vec![check(
                "jwks",
                Status::Fail,
                format!("{url}: {e}"),
                Some(fix),
            )];
        }
        Err(_) => {
            return vec![check(
                "jwks",
                Status::Fail,
                format!("{url}: no answer within 5 s"),
                Some(fix),
            )];
        }
    };
    let mut checks = Vec::new();
    let keys = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["keys"].as_array().map(Vec::len));
    checks.push(match (status, keys) {
        (200, Some(n)) if n > 0 => check(
            "jwks",
            Status::Ok,
            format!("{url} publishes {n} keys"),
            None,
        ),
        (200, _) => check(
            "jwks",
            Status::Fail,
            format!("{url} answers 200 without keys"),
            Some(fix),
        ),
        (other, _) => check(
            "jwks",
            Status::Fail,
            format!("{url} answers {other}"),
            Some(fix),
        ),
    });
    let skew = date.and_then(|d| httpdate_seconds(&d)).map(|t| t - now);
    checks.push(match skew {
        Some(skew) if skew.abs() > MAX_SKEW_SECONDS => check(
            "clock",
            Status::Warn,
            format!("this host's clock differs from the issuer's by {skew} s"),
            Some("runbook: \"Clock\" — run NTP (chrony) on every host"),
        ),
        Some(skew) => check(
            "clock",
            Status::Ok,
            format!("within {} s of the issuer's", skew.abs()),
            None,
        ),
        None => check(
            "clock",
            Status::Ok,
            "the issuer sent no Date header to compare with",
            None,
        ),
    });
    checks
}

async fn fetch(url: &str) -> Result<(u16, Option<String>, Bytes), String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no CA certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let response = client.get(uri).await.map_err(|e| chain(&e))?;
    let status = response.status().as_u16();
    let date = response
        .headers()
        .get(hyper::header::DATE)
        .and_then(|d| d.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{e}"))?
        .to_bytes();
    Ok((status, date, body))
}

/// An error with its causes: "client error (Connect): Connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) as Unix seconds.
fn httpdate_seconds(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            httpdate_seconds("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(httpdate_seconds("yesterday"), None);
    }
}
