//! The client's IP address: the socket's peer, or, when that peer is a
//! trusted proxy, the nearest address in `X-Forwarded-For` that is not one
//! (read from the right, since every proxy appends). A client cannot spoof
//! it by sending its own header: an untrusted peer's header is ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for IpBlock {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl IpBlock {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are their IPv4 address, so
/// one client has one rate-limit key whatever the socket family.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address for a request from `peer` with `headers`.
/// What a per-IP rate limit counts under: an IPv4 address, or the IPv6
/// network of `v6_prefix` bits it belongs to. One customer usually holds a
/// whole /64 (RFC 6177), so limiting the full address would give it 2^64
/// buckets (docs/security.md 28).
pub fn limit_subject(ip: IpAddr, v6_prefix: u8) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix.min(128)))
                .unwrap_or(0);
            let network = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{network}/{v6_prefix}")
        }
    }
}

pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpBlock]) -> IpAddr {
    let mut ip = canonical(peer.ip());
    if !trusted.iter().any(|b| b.contains(ip)) {
        return ip;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        let Ok(hop) = hop.parse::<IpAddr>() else {
            // A malformed entry: stop at the last address we could trust.
            return ip;
        };
        ip = canonical(hop);
        if !trusted.iter().any(|b| b.contains(ip)) {
            return ip;
        }
    }
    ip
}

/// The client address of a request, put in its extensions by the request
/// middleware.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn blocks(list: &[&str]) -> Vec<IpBlock> {
        list.iter().map(|b| b.parse().unwrap()).collect()
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: SocketAddr = "10.1.2.3:4444".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:4444".parse().unwrap();
        let trusted = blocks(&["10.0.0.0/8"]);
        let spoofed = headers(&["1.1.1.1"]);
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(stranger, &spoofed, &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(client_ip(proxy, &spoofed, &[]).to_string(), "10.1.2.3");
        // Behind the proxy: the nearest untrusted hop, from the right.
        let chain = headers(&["1.1.1.1, 198.51.100.7", "10.9.9.9"]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted).to_string(),
            "198.51.100.7"
        );
        assert_eq!(
            client_ip(proxy, &headers(&[]), &trusted).to_string(),
            "10.1.2.3"
        );
        assert_eq!(
            client_ip(proxy, &headers(&["nonsense, 10.0.0.5"]), &trusted).to_string(),
            "10.0.0.5"
        );
    }

    #[test]
    fn ipv6_clients_are_limited_per_network() {
        let subject = |ip: &str, prefix| limit_subject(ip.parse().unwrap(), prefix);
        assert_eq!(subject("192.0.2.7", 64), "192.0.2.7");
        assert_eq!(subject("::ffff:192.0.2.7", 64), "192.0.2.7");
        assert_eq!(subject("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(
            subject("2001:db8:1:2:aaaa::1", 64),
            subject("2001:db8:1:2:ffff:ffff:ffff:ffff", 64)
        );
        assert_ne!(
            subject("2001:db8:1:2::1", 64),
            subject("2001:db8:1:3::1", 64)
        );
        assert_eq!(subject("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
        assert_eq!(subject("2001:db8::1", 128), "2001:db8::1/128");
    }

    #[test]
    fn blocks_and_mapped_addresses() {
        let b: IpBlock = "192.168.0.0/16".parse().unwrap();
        assert!(b.contains("192.168.44.1".parse().unwrap()));
        assert!(b.contains("::ffff:192.168.44.1".parse().unwrap()));
        assert!(!b.contains("192.169.0.1".parse().unwrap()));
        let all: IpBlock = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: IpBlock = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpBlock>().is_err());
        assert!("example.com".parse::<IpBlock>().is_err());
        let one: IpBlock = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
    }
}
