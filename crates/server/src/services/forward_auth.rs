//! Forward authentication for applications that speak no OpenID Connect:
//! a reverse proxy (nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth`) asks, before each request, whether the browser's
//! session may use the application at the original URL. The applications
//! are the operator's list (`AUTH_FORWARD_AUTH_APPS`), each with the group
//! its users must be in, if any; a URL of any other host is refused, which
//! also keeps the sign-in's return address (`rd`) from being an open
//! redirect (docs/security.md 3). An application may also ask for a
//! stronger sign-in than `AUTH_MFA` does (`level=mfa|phr`): a weaker
//! session is stepped up at the factor page, as an authorization request
//! with `acr_values` is (`routes::factor`).

use oauth::acr::Level;

use crate::config::ForwardAuthApp;
use crate::services::Ctx;
use crate::services::oauth::authorize::policy_level;
use crate::services::oauth::session::Current;

/// Who the proxy passes on to the application (`Remote-*` headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Identity),
    /// No session: the browser must sign in first.
    SignIn,
    /// Signed in, but not in the application's group.
    Forbidden,
    /// In the group, but signed in less strongly than the application
    /// (or `AUTH_MFA`) asks: the session must reach the level first.
    StepUp(Level),
}

/// The application `url` is a URL of, if it is one of `apps`: an http(s)
/// URL without user info whose host (and port, if the entry names one)
/// is an entry's, or a subdomain of a `*.` entry's.
pub fn app_for<'a>(apps: &'a [ForwardAuthApp], url: &str) -> Option<&'a ForwardAuthApp> {
    let authority = authority(url)?.to_ascii_lowercase();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority.as_str(),
    };
    apps.iter().find(|app| {
        let wanted = if app.host.contains(':') && !app.host.starts_with("*.") {
            authority.as_str()
        } else {
            host
        };
        match app.host.strip_prefix("*.") {
            Some(parent) => wanted
                .strip_suffix(parent)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => wanted == app.host,
        }
    })
}

/// The authority (`host[:port]`) of an http(s) URL without user info.
pub fn authority(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty() && !authority.contains(['@', '\\'])).then_some(authority)
}

/// Whether the browser's session (or `None`) may use `app`. The group
/// comes first: a user outside it is refused without being asked for a
/// factor they could not use here anyway.
pub async fn decide(
    ctx: &Ctx,
    current: Option<&Current>,
    app: &ForwardAuthApp,
) -> Result<Decision, store::Error> {
    let Some(Current { session, user }) = current else {
        return Ok(Decision::SignIn);
    };
    let groups = crate::services::scim::users::group_names(ctx, &user.id).await?;
    if let Some(group) = &app.group
        && !groups.contains(group)
    {
        return Ok(Decision::Forbidden);
    }
    if let Some(required) = app.level.max(policy_level(ctx, user, ctx.clock.now()))
        && Level::of(&session.data.amr) < required
    {
        return Ok(Decision::StepUp(required));
    }
    let claims = oauth::claims::for_scope(
        &oauth::claims::User {
            id: &user.id,
            user_name: &user.user_name,
            updated_at: user.updated_at,
            attributes: &user.attributes,
            email_verified: ctx.config.emails_verified,
        },
        &["profile", "email"],
        &[],
    );
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(Decision::Allow(Identity {
        user: user.user_name.clone(),
        email: text("email"),
        name: text("name"),
        groups,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps() -> Vec<ForwardAuthApp> {
        vec![
            ForwardAuthApp {
                host: "app.example.com".into(),
                group: Some("admins".into()),
                level: None,
            },
            ForwardAuthApp {
                host: "*.tools.example.com".into(),
                group: None,
                level: None,
            },
            ForwardAuthApp {
                host: "127.0.0.1:8080".into(),
                group: None,
                level: Some(Level::Mfa),
            },
        ]
    }

    #[test]
    fn only_the_configured_hosts_are_applications() {
        let apps = apps();
        for (url, host) in [
            ("https://app.example.com/", Some("app.example.com")),
            ("https://APP.example.com:8443/x?y", Some("app.example.com")),
            (
                "http://wiki.tools.example.com/page",
                Some("*.tools.example.com"),
            ),
            ("https://a.b.tools.example.com", Some("*.tools.example.com")),
            ("http://127.0.0.1:8080/", Some("127.0.0.1:8080")),
            ("http://127.0.0.1:8081/", None),
            ("https://tools.example.com/", None),
            ("https://eviltools.example.com/", None),
            ("https://app.example.com.evil.example/", None),
            ("https://app.example.com@evil.example/", None),
            ("https://evil.example/?https://app.example.com/", None),
            ("javascript://app.example.com/", None),
            ("//app.example.com/", None),
            ("/relative", None),
        ] {
            assert_eq!(app_for(&apps, url).map(|a| a.host.as_str()), host, "{url}");
        }
    }
}
