//! WebFinger for OpenID Connect issuer discovery (RFC 7033, OpenID Connect
//! Discovery 1.0 §2): a relying party that knows only `user@domain` asks
//! `/.well-known/webfinger?resource=acct:user@domain&rel=…/issuer` which
//! issuer to use. The answer depends on the domain only, never on whether
//! the user exists, so the endpoint tells no one who has an account.

use serde_json::{Value, json};

/// The link relation of an OpenID Connect issuer (Discovery §2).
pub const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";
/// The JRD media type (RFC 7033 §10.2).
pub const JRD: &str = "application/jrd+json";

/// Why a query gets no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// §4.2: 400, no or an unparseable `resource`.
    #[error("{0}")]
    BadRequest(&'static str),
    /// §4.2: 404, nothing is known about the resource's domain.
    #[error("no information about this resource")]
    NotFound,
}

/// The host a resource is at: `acct:user@host` (RFC 7565), or an http(s)
/// URL's host (Discovery §2.1 normalises a URL input to one); lower case,
/// without a port.
pub fn host_of(resource: &str) -> Result<String, Refusal> {
    let host = if let Some(account) = resource.strip_prefix("acct:") {
        let (user, host) = account
            .rsplit_once('@')
            .ok_or(Refusal::BadRequest("an acct: resource is user@host"))?;
        if user.is_empty() {
            return Err(Refusal::BadRequest("an acct: resource is user@host"));
        }
        host
    } else if let Some(rest) = resource
        .strip_prefix("https://")
        .or_else(|| resource.strip_prefix("http://"))
    {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        authority.split(':').next().unwrap_or_default()
    } else {
        return Err(Refusal::BadRequest(
            "resource must be an acct: or https: URI (RFC 7033 section 4.1)",
        ));
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    {
        return Err(Refusal::BadRequest("the resource has no valid host"));
    }
    Ok(host.to_ascii_lowercase())
}

/// The JRD for `resource` (§4.4), with the issuer link unless `rels`
/// (the request's `rel` parameters, §4.3) leave it out.
pub fn answer(resource: &str, rels: &[&str], issuer: &str) -> Value {
    let mut links = Vec::new();
    if rels.is_empty() || rels.contains(&ISSUER_REL) {
        links.push(json!({"rel": ISSUER_REL, "href": issuer}));
    }
    json!({"subject": resource, "links": links})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_resources() {
        assert_eq!(host_of("acct:bjensen@Example.com").unwrap(), "example.com");
        assert_eq!(host_of("acct:a@b@example.com").unwrap(), "example.com");
        assert_eq!(
            host_of("https://example.com:8080/joe").unwrap(),
            "example.com"
        );
        for bad in [
            "acct:example.com",
            "acct:@example.com",
            "mailto:a@example.com",
            "acct:a@",
            "acct:a@exa mple.com",
        ] {
            assert!(matches!(host_of(bad), Err(Refusal::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn discovery_section_2_example() {
        let jrd = answer(
            "acct:joe@example.com",
            &[ISSUER_REL],
            "https://server.example.com",
        );
        assert_eq!(
            jrd,
            json!({"subject": "acct:joe@example.com",
                "links": [{"rel": ISSUER_REL, "href": "https://server.example.com"}]})
        );
        let other = answer(
            "acct:joe@example.com",
            &["http://webfinger.net/rel/avatar"],
            "x",
        );
        assert_eq!(other["links"], json!([]));
    }
}
