//! The requests this server makes on a client's word: fetching a client
//! ID metadata document (`services::client_documents`) and delivering a
//! logout token to a client's `backchannel_logout_uri`
//! (`services::oauth::backchannel`), and the audit trail to its webhook
//! (`services::audit::webhook`). A URL chosen by whoever registers a
//! client or calls `/authorize` must not reach inside the network
//! (server-side request forgery), so every such request is held to one
//! policy (docs/security.md 30):
//!
//! - https only, port included in the URL or 443; no user info; plain
//!   http only where the policy allows it, and then only to addresses the
//!   operator allow-listed;
//! - every address the host resolves to must be public: no loopback,
//!   private, link-local, unique-local, carrier-grade NAT, multicast,
//!   documentation, benchmarking or reserved range, IPv4-mapped IPv6
//!   judged by its IPv4 address; unless an address is allow-listed
//!   (`AUTH_CLIENT_ID_METADATA_ALLOW`, `AUTH_BACKCHANNEL_LOGOUT_ALLOW`:
//!   an operator's own network);
//! - the connection goes to the addresses that were judged (the resolver
//!   below answers the connector), so a DNS answer that changes between
//!   the check and the connect cannot steer it;
//! - no redirects, at most [`MAX_BODY`] bytes, [`TIMEOUT`] for all of it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use crate::ops::client_ip::IpBlock;

/// The largest document read (the draft's suggestion is 5 KiB).
pub const MAX_BODY: usize = 5 * 1024;
/// Connect, TLS, request and body, together.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fetch was not made or did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not an https URL with a host: {0}")]
    Url(String),
    #[error("{0} is not a public address")]
    Address(IpAddr),
    #[error("the host does not resolve: {0}")]
    Resolve(String),
    #[error("the fetch failed: {0}")]
    Connection(String),
    #[error("the answer was HTTP {0}")]
    Status(u16),
    #[error("the answer is over {MAX_BODY} bytes")]
    TooLarge,
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    Timeout,
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598).
        || (a == 100 && (b & 0xc0) == 64)
        // 192.0.0.0/24, IETF protocol assignments (RFC 6890).
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking (RFC 2544).
        || (a == 198 && (b & 0xfe) == 18)
        // 240.0.0.0/4, reserved.
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32 documentation.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // 64:ff9b::/96 NAT64 and ::/96 IPv4-compatible: they name an
        // IPv4 address this check cannot see through.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
        || ip.segments()[..6].iter().all(|s| *s == 0))
}

/// The SSRF policy: public addresses, and those an operator allows.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow: Vec<IpBlock>,
    /// Plain http to a host whose every address is allow-listed (Back-Channel
    /// Logout 1.0 §2.2 lets an OP accept http for confidential clients);
    /// never to the public internet.
    pub http_inside: bool,
}

impl Policy {
    /// Whether an https request may go to `ip`.
    pub fn admits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed(ip)
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|block| block.contains(ip))
    }

    /// Whether a request over `plain` http (or https) may go to `ip`.
    fn admits_over(&self, ip: IpAddr, plain: bool) -> bool {
        if plain {
            self.allowed(ip)
        } else {
            self.admits(ip)
        }
    }
}

/// A resolver that answers only with admitted addresses, for plain http
/// when its flag is set.
#[derive(Debug, Clone)]
struct Guarded(Arc<Policy>, bool);

impl tower::Service<Name> for Guarded {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = Arc::clone(&self.0);
        let plain = self.1;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            // Every address must be admitted, not just one: a host that
            // also resolves inside the network is refused altogether.
            if let Some(refused) = addresses
                .iter()
                .find(|a| !policy.admits_over(a.ip(), plain))
            {
                return Err(std::io::Error::other(FetchError::Address(refused.ip())));
            }
            if addresses.is_empty() {
                return Err(std::io::Error::other(FetchError::Resolve(name.to_string())));
            }
            Ok(addresses.into_iter())
        })
    }
}

/// A fetched document: its bytes and how long it may be cached (its
/// `Cache-Control: max-age`, if any).
#[derive(Debug)]
pub struct Fetched {
    pub body: Bytes,
    pub max_age: Option<u64>,
}

/// The HTTP client of one connector: a resolver held to the policy, TLS
/// with the system's roots.
type HttpClient = Client<HttpsConnector<HttpConnector<Guarded>>, Full<Bytes>>;

/// Requests held to one [`Policy`], for as many as a caller makes: built
/// once (the system's CA roots are read here, not per request), cheap to
/// clone, and pooling connections per host, which were judged when they
/// were made.
#[derive(Clone)]
pub struct Outbound {
    policy: Arc<Policy>,
    https: HttpClient,
    /// Plain http as well, when the policy allows it.
    plain: Option<HttpClient>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    pub fn new(policy: Policy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let client = |plain: bool| -> Result<HttpClient, FetchError> {
            let mut http = HttpConnector::new_with_resolver(Guarded(Arc::clone(&policy), plain));
            http.enforce_http(false);
            http.set_connect_timeout(Some(TIMEOUT));
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| FetchError::Connection(format!("no CA certificates: {e}")))?;
            let https = if plain {
                builder.https_or_http()
            } else {
                builder.https_only()
            }
            .enable_http1()
            .wrap_connector(http);
            Ok(Client::builder(TokioExecutor::new()).build(https))
        };
        Ok(Self {
            https: client(false)?,
            plain: if policy.http_inside {
                Some(client(true)?)
            } else {
                None
            },
            policy,
        })
    }

    /// GETs `url`, accepting only a 200 answer.
    pub async fn fetch_json(&self, url: &str) -> Result<Fetched, FetchError> {
        let (uri, plain) = target(&self.policy, url)?;
        let request = hyper::Request::get(uri)
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, "auth-service")
            .body(Full::default())
            .map_err(|e| FetchError::Connection(e.to_string()))?;
        let response = self.send(plain, request).await?;
        // Redirects are not followed: a 3xx is an answer like any non-200.
        if response.status != hyper::StatusCode::OK {
            return Err(FetchError::Status(response.status.as_u16()));
        }
        let max_age = response
            .headers
            .get(hyper::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        Ok(Fetched {
            body: response.body,
            max_age,
        })
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`) to `url`,
    /// accepting a 200 or 204 answer (Back-Channel Logout 1.0 §2.8 expects
    /// 200 and asks senders to take 204 as well).
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(), FetchError> {
        let (uri, plain) = target(&self.policy, url)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = hyper::Request::post(uri)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(hyper::header::USER_AGENT, "auth-service")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| FetchError::Connection(e.to_string()))?;
        let response = self.send(plain, request).await?;
        match response.status {
            hyper::StatusCode::OK | hyper::StatusCode::NO_CONTENT => Ok(()),
            other => Err(FetchError::Status(other.as_u16())),
        }
    }

    /// POSTs a JSON `body` with extra `headers` to `url`, accepting any
    /// 2xx answer (a webhook's receiver chooses its own).
    pub async fn post_json(
        &self,
        url: &str,
        body: Bytes,
        headers: &[(&'static str, String)],
    ) -> Result<(), FetchError> {
        let (uri, plain) = target(&self.policy, url)?;
        let mut request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "auth-service");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| FetchError::Connection(e.to_string()))?;
        let response = self.send(plain, request).await?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(FetchError::Status(response.status.as_u16()))
        }
    }

    /// Sends `request`, all of it within [`TIMEOUT`].
    async fn send(
        &self,
        plain: bool,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, FetchError> {
        let client = match (plain, &self.plain) {
            (false, _) => &self.https,
            (true, Some(plain)) => plain,
            // `target` refused it already.
            (true, None) => return Err(FetchError::Url(request.uri().to_string())),
        };
        let work = async {
            let response = client.request(request).await.map_err(|e| {
                // The resolver's refusal, as itself.
                let mut source: Option<&dyn std::error::Error> = Some(&e);
                while let Some(cause) = source {
                    // io::Error hides its inner error from source().
                    let inner = cause
                        .downcast_ref::<std::io::Error>()
                        .and_then(std::io::Error::get_ref)
                        .and_then(|e| e.downcast_ref::<FetchError>());
                    if let Some(refused) = inner.or_else(|| cause.downcast_ref::<FetchError>()) {
                        return refused.clone();
                    }
                    source = cause.source();
                }
                FetchError::Connection(e.to_string())
            })?;
            let (parts, body) = response.into_parts();
            // A refusal's body is not read: its status says enough.
            let body = if parts.status.is_success() {
                Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(|_| FetchError::TooLarge)?
                    .to_bytes()
            } else {
                Bytes::new()
            };
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

/// GETs `url` under `policy` once (an [`Outbound`] for one request).
pub async fn fetch_json(policy: &Policy, url: &str) -> Result<Fetched, FetchError> {
    Outbound::new(policy.clone())?.fetch_json(url).await
}

/// The URI of `url` and whether it is plain http, if the policy lets a
/// request go there at all; an IP literal is judged here, as the
/// connector does not ask the resolver about one.
fn target(policy: &Policy, url: &str) -> Result<(hyper::Uri, bool), FetchError> {
    let uri: hyper::Uri = url.parse().map_err(|_| FetchError::Url(url.to_owned()))?;
    let plain = match uri.scheme_str() {
        Some("https") => false,
        Some("http") if policy.http_inside => true,
        _ => return Err(FetchError::Url(url.to_owned())),
    };
    let host = match (uri.host(), uri.authority()) {
        (Some(host), Some(authority)) if !authority.as_str().contains('@') => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => return Err(FetchError::Url(url.to_owned())),
    };
    if let Ok(ip) = host.parse::<IpAddr>()
        && !policy.admits_over(ip, plain)
    {
        return Err(FetchError::Address(ip));
    }
    Ok((uri, plain))
}

/// An answer: its status and headers, and its body (within [`MAX_BODY`]).
struct Answer {
    status: hyper::StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

/// `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1); `no-store`
/// and `no-cache` are zero.
fn max_age(value: &str) -> Option<u64> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds.trim_matches('"').parse().ok();
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::10.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
        let allowed = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            http_inside: false,
        };
        assert!(allowed.admits("127.0.0.1".parse().unwrap()));
        assert!(!allowed.admits("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("private"), None);
    }

    #[tokio::test]
    async fn the_policy_refuses_before_connecting() {
        let policy = Policy::default();
        for (url, expected) in [
            ("http://example.com/client", "not an https URL"),
            ("https://user@example.com/client", "not an https URL"),
            ("https://127.0.0.1/client", "not a public address"),
            ("https://[::1]/client", "not a public address"),
            (
                "https://169.254.169.254/latest/meta-data",
                "not a public address",
            ),
            ("https://localhost/client", "not a public address"),
        ] {
            let e = fetch_json(&policy, url).await.unwrap_err();
            assert!(e.to_string().contains(expected), "{url}: {e}");
        }
    }

    /// Plain http goes only to allow-listed addresses, and only when the
    /// policy says so: never to the internet, never inside unlisted.
    #[tokio::test]
    async fn plain_http_only_inside_the_allow_list() {
        let https_only = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            http_inside: false,
        };
        let e = Outbound::new(https_only.clone())
            .unwrap()
            .post_form("http://127.0.0.1:9/logout", &[])
            .await;
        assert!(matches!(e, Err(FetchError::Url(_))), "{e:?}");
        let inside = Outbound::new(Policy {
            http_inside: true,
            ..https_only
        })
        .unwrap();
        for url in ["http://1.1.1.1/logout", "http://10.0.0.1/logout"] {
            let e = inside.post_form(url, &[]).await;
            assert!(matches!(e, Err(FetchError::Address(_))), "{url}: {e:?}");
        }
        // Allowed: it gets as far as connecting (nothing listens there).
        let e = inside.post_form("http://127.0.0.1:9/logout", &[]).await;
        assert!(matches!(e, Err(FetchError::Connection(_))), "{e:?}");
    }
}
