//! docs/integrations.md, checked by claim shape: each recipe's client is
//! registered exactly as the document says, a user with groups signs in
//! through it, and the claims the application reads are where it reads
//! them (ID token or userinfo), with the JSON types it expects.

use serde_json::{Value, json};

use crate::oidc::{Browser, Provider, VERIFIER, query};

/// What an application needs of one claim.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A non-empty string.
    Text,
    /// A JSON array of strings containing this group.
    Groups(&'static str),
    /// `true`.
    True,
    /// The client's own id.
    ClientId,
}

/// Where the application reads its claims.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Read {
    IdToken,
    Userinfo,
}

struct Recipe {
    name: &'static str,
    redirect: &'static str,
    extra: &'static [&'static str],
    scope: &'static str,
    public: bool,
    reads: &'static [(Read, &'static str, Shape)],
}

const RECIPES: &[Recipe] = &[
    Recipe {
        name: "Grafana",
        redirect: "https://grafana.example.com/login/generic_oauth",
        extra: &[
            "--post-logout-redirect-uri",
            "https://grafana.example.com/login",
        ],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::Userinfo, "preferred_username", Shape::Text),
            (Read::Userinfo, "email", Shape::Text),
            (Read::Userinfo, "name", Shape::Text),
            (Read::Userinfo, "groups", Shape::Groups("grafana-admins")),
        ],
    },
    Recipe {
        name: "Kubernetes",
        redirect: "http://localhost:8000",
        extra: &["--public", "--redirect-uri", "http://localhost:18000"],
        scope: "openid profile email groups",
        public: true,
        reads: &[
            (Read::IdToken, "aud", Shape::ClientId),
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "email_verified", Shape::True),
            (Read::IdToken, "groups", Shape::Groups("k8s-admins")),
        ],
    },
    Recipe {
        name: "Vault",
        redirect: "https://vault.example.com:8200/ui/vault/auth/oidc/oidc/callback",
        extra: &["--redirect-uri", "http://localhost:8250/oidc/callback"],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::IdToken, "aud", Shape::ClientId),
            (Read::IdToken, "sub", Shape::Text),
            (Read::IdToken, "groups", Shape::Groups("k8s-admins")),
        ],
    },
    Recipe {
        name: "Argo CD",
        redirect: "https://argocd.example.com/auth/callback",
        extra: &[],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "groups", Shape::Groups("argocd-admins")),
        ],
    },
    Recipe {
        name: "GitLab",
        redirect: "https://gitlab.example.com/users/auth/openid_connect/callback",
        extra: &[],
        scope: "openid profile email",
        public: false,
        reads: &[
            (Read::IdToken, "sub", Shape::Text),
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "name", Shape::Text),
            (Read::IdToken, "preferred_username", Shape::Text),
        ],
    },
    Recipe {
        name: "Nextcloud",
        redirect: "https://cloud.example.com/apps/user_oidc/code",
        extra: &[],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::IdToken, "preferred_username", Shape::Text),
            (Read::IdToken, "name", Shape::Text),
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "groups", Shape::Groups("grafana-admins")),
        ],
    },
    Recipe {
        name: "oauth2-proxy",
        redirect: "https://app.example.com/oauth2/callback",
        extra: &[],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "email_verified", Shape::True),
            (Read::IdToken, "groups", Shape::Groups("argocd-admins")),
        ],
    },
    Recipe {
        name: "Apache",
        redirect: "https://app.example.com/redirect_uri",
        extra: &[
            "--post-logout-redirect-uri",
            "https://app.example.com/",
            "--backchannel-logout-uri",
            "https://app.example.com/redirect_uri?logout=backchannel",
        ],
        scope: "openid profile email groups",
        public: false,
        reads: &[
            (Read::IdToken, "preferred_username", Shape::Text),
            (Read::IdToken, "sid", Shape::Text),
        ],
    },
    Recipe {
        name: "Tailscale",
        redirect: "https://login.tailscale.com/a/oauth_response",
        extra: &[],
        scope: "openid profile email",
        public: false,
        reads: &[
            (Read::IdToken, "email", Shape::Text),
            (Read::IdToken, "email_verified", Shape::True),
            (Read::IdToken, "name", Shape::Text),
            (Read::IdToken, "sub", Shape::Text),
        ],
    },
];

fn check(recipe: &str, claims: &Value, claim: &str, shape: Shape, client_id: &str) {
    let value = &claims[claim];
    let ok = match shape {
        Shape::Text => value.as_str().is_some_and(|s| !s.is_empty()),
        Shape::Groups(group) => value.as_array().is_some_and(|groups| {
            groups.iter().all(Value::is_string) && groups.contains(&json!(group))
        }),
        Shape::True => value == &json!(true),
        Shape::ClientId => value == &json!(client_id),
    };
    assert!(ok, "{recipe}: {claim} is not {shape:?}: {claims}");
}

#[tokio::test]
async fn every_recipe_gets_the_claims_its_application_reads() {
    let p = Provider::start_with(&[
        ("AUTH_EMAILS_VERIFIED", "true"),
        ("AUTH_WEBFINGER_DOMAINS", "example.com"),
    ])
    .await;
    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;
    let http = reqwest::Client::new();
    for group in ["grafana-admins", "k8s-admins", "argocd-admins"] {
        let created = http
            .post(format!("{}/scim/v2/Groups", p.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(json!({"displayName": group, "members": [{"value": p.user_id}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    for recipe in RECIPES {
        let mut args = vec![
            "client",
            "create",
            "--name",
            recipe.name,
            "--redirect-uri",
            recipe.redirect,
            "--scope",
            recipe.scope,
        ];
        args.extend_from_slice(recipe.extra);
        let created = p.cli(&args);
        let id = created["client_id"].as_str().unwrap();
        assert_eq!(created.get("client_secret").is_none(), recipe.public);
        let mut browser = Browser::new();
        let callback = p
            .sign_in(
                &mut browser,
                &[
                    ("client_id", id),
                    ("redirect_uri", recipe.redirect),
                    ("scope", recipe.scope),
                ],
            )
            .await;
        assert!(callback.starts_with(recipe.redirect), "{callback}");
        let code = query(&callback)["code"].clone();
        let mut exchange = http.post(format!("{}/token", p.base));
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", recipe.redirect),
            ("code_verifier", VERIFIER),
        ];
        if recipe.public {
            form.push(("client_id", id));
        } else {
            exchange = exchange.basic_auth(id, created["client_secret"].as_str());
        }
        let tokens: Value = exchange
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id_token = crate::mfa::payload(tokens["id_token"].as_str().unwrap());
        let userinfo: Value = http
            .get(format!("{}/userinfo", p.base))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (from, claim, shape) in recipe.reads {
            let claims = if *from == Read::IdToken {
                &id_token
            } else {
                &userinfo
            };
            check(recipe.name, claims, claim, *shape, id);
        }
    }
    // Tailscale finds the issuer by WebFinger on the email domain.
    let jrd: Value = http
        .get(format!(
            "{}/.well-known/webfinger?resource=acct%3Abjensen%40example.com&rel=http%3A%2F%2Fopenid.net%2Fspecs%2Fconnect%2F1.0%2Fissuer",
            p.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jrd["links"][0]["href"], crate::helpers::ISSUER);
}
