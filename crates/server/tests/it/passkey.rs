//! Passkeys through the real endpoints without a browser (docs/security.md
//! 31): a software authenticator answers the server's WebAuthn options as a
//! CTAP2 authenticator and a browser together would, and can be told to
//! answer wrongly — another origin, another RP id, no user verification, a
//! counter that goes back — which a conforming authenticator library will
//! not do, so it is written here: ES256 keys from aws-lc-rs and the few
//! CBOR items a "none" attestation needs (W3C WebAuthn Level 3 §6.1, §6.5;
//! RFC 9052 §7 for the COSE key). The real browser is `it/browser.rs`'s.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::ISSUER;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, query};

/// Authenticator data flags (§6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR head (RFC 8949 §3): major type and length or value.
fn head(major: u8, n: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=255 => out.extend([major | 24, n as u8]),
        _ => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    head(2, bytes.len(), out);
    out.extend_from_slice(bytes);
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    head(3, text.len(), out);
    out.extend_from_slice(text.as_bytes());
}

/// What the authenticator and its "browser" put in one answer.
#[derive(Clone)]
struct Answer {
    origin: String,
    rp_id: Option<String>,
    flags: u8,
    /// The signature counter to send; `None` for the next one.
    counter: Option<u32>,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            origin: ISSUER.to_owned(),
            rp_id: None,
            flags: UP | UV,
            counter: None,
        }
    }
}

/// One discoverable ES256 credential.
struct Authenticator {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

impl Authenticator {
    fn new() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let credential_id = digest(&SHA256, key.public_key().as_ref()).as_ref()[..16].to_vec();
        Self {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
        }
    }

    /// The credential public key as a COSE_Key (RFC 9053 §7.1.1: EC2,
    /// ES256, P-256), map keys in CTAP2 canonical order.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(x, &mut out);
        out.push(0x22);
        cbor_bytes(y, &mut out);
        out
    }

    fn auth_data(&mut self, rp_id: &str, answer: &Answer, attested: bool) -> Vec<u8> {
        let counter = answer.counter.unwrap_or(self.counter + 1);
        self.counter = self.counter.max(counter);
        let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        data.push(answer.flags | if attested { AT } else { 0 });
        data.extend(counter.to_be_bytes());
        if attested {
            data.extend([0u8; 16]);
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            data.extend(self.cose_key());
        }
        data
    }

    fn client_data(kind: &str, options: &Value, answer: &Answer) -> String {
        json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": answer.origin,
            "crossOrigin": false,
        })
        .to_string()
    }

    /// `navigator.credentials.create()` for `options` (publicKey).
    fn register(&mut self, options: &Value, answer: &Answer) -> Value {
        self.user_handle = URL_SAFE_NO_PAD
            .decode(options["user"]["id"].as_str().unwrap())
            .unwrap();
        let rp_id = answer
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rp"]["id"].as_str().unwrap().to_owned());
        let client_data = Self::client_data("webauthn.create", options, answer);
        let auth_data = self.auth_data(&rp_id, answer, true);
        let mut attestation = vec![0xa3];
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        attestation.push(0xa0);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get()` for `options` (publicKey), with the
    /// RP id the options name or, for a discoverable request, the issuer's.
    fn assert(&mut self, options: &Value, answer: &Answer) -> Value {
        let rp_id = answer.rp_id.clone().unwrap_or_else(|| {
            options["rpId"]
                .as_str()
                .unwrap_or("auth.example.test")
                .to_owned()
        });
        let client_data = Self::client_data("webauthn.get", options, answer);
        let auth_data = self.auth_data(&rp_id, answer, false);
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}

fn form<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Adds a passkey to the signed-in browser's account through
/// `/account/passkey`; returns the page that answered.
async fn register(
    p: &Provider,
    browser: &mut Browser,
    authenticator: &mut Authenticator,
    answer: &Answer,
) -> (StatusCode, String) {
    let page = browser.get(&format!("{}/account/passkey", p.base)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("<script nonce=\"{nonce}\">")),
        "{html}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let csrf = hidden(&html, "csrf_token");
    let offer = json_of(
        browser
            .post(
                &format!("{}/account/passkey/options", p.base),
                &[("csrf_token", &csrf)],
            )
            .await,
    )
    .await;
    let options = &offer["publicKey"];
    assert_eq!(options["rp"]["id"], "auth.example.test");
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = authenticator.register(options, answer);
    let fields = [
        ("csrf_token", csrf),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
        ("name", "Laptop".to_owned()),
    ];
    let response = browser
        .post(&format!("{}/account/passkey", p.base), &form(&fields))
        .await;
    (response.status(), response.text().await.unwrap())
}

/// The login page of a fresh authorization request and its passkey options.
async fn passwordless_offer(p: &Provider, browser: &mut Browser) -> (String, Value) {
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let html = browser
        .get(&format!("{}{to_login}", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sign in with a passkey"), "{html}");
    assert!(
        html.contains("autocomplete=\"username webauthn\""),
        "{html}"
    );
    let fields = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let offer = json_of(
        browser
            .post(&format!("{}/login/passkey/options", p.base), &form(&fields))
            .await,
    )
    .await;
    assert_eq!(offer["mediation"], "conditional");
    assert_eq!(offer["publicKey"]["userVerification"], "required");
    (html, offer)
}

async fn post_passwordless(
    p: &Provider,
    browser: &mut Browser,
    (html, offer): (&str, &Value),
    credential: &Value,
) -> reqwest::Response {
    let fields = [
        ("authz", hidden(html, "authz")),
        ("csrf_token", hidden(html, "csrf_token")),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
    ];
    browser
        .post(&format!("{}/login/passkey", p.base), &form(&fields))
        .await
}

/// Consents if asked; the ID token's claims of the code at the callback.
async fn id_token_claims(p: &Provider, browser: &mut Browser, to: &str) -> Value {
    let callback = if to.starts_with("/consent") {
        let response = browser
            .fill(&p.base, to, "/consent", &[("decision", "allow")])
            .await;
        location(&response)
    } else {
        to.to_owned()
    };
    let tokens: Value = p
        .exchange(&query(&callback)["code"])
        .await
        .json()
        .await
        .unwrap();
    let part = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A signed-in browser with a passkey on its account.
async fn with_passkey(p: &Provider) -> (Browser, Authenticator) {
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let mut authenticator = Authenticator::new();
    let (status, html) = register(p, &mut browser, &mut authenticator, &Answer::default()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "first recovery codes: {html}"
    );
    (browser, authenticator)
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password_and_after_one() {
    let p = Provider::start().await;
    let (mut browser, mut authenticator) = with_passkey(&p).await;
    let enrolled = p.server.security_event("mfa_enrolled").await;
    assert_eq!(enrolled["method"], "passkey");
    let account = browser
        .get(&format!("{}/account", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("Laptop") && account.contains("(passkey)"),
        "{account}"
    );

    // Passwordless: the phishing-resistant level, and the RFC 8176 methods
    // of a verified hardware key.
    let mut other = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut other).await;
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    let signed_in = post_passwordless(&p, &mut other, (&html, &offer), &credential).await;
    let to = location(&signed_in);
    let claims = id_token_claims(&p, &mut other, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    let event = p.server.security_event("authentication_success").await;
    assert!(
        p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "authentication_success" && l["method"] == "passkey"),
        "{event}"
    );

    // The same response again: its challenge was taken (§13.4.3).
    let mut third = Browser::new();
    let (html2, _) = passwordless_offer(&p, &mut third).await;
    let replayed = post_passwordless(&p, &mut third, (&html2, &offer), &credential).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert!(third.cookies.keys().all(|name| !name.contains("session")));

    // After a password, the passkey is the second factor.
    let mut fourth = Browser::new();
    let to_login = location(&fourth.get(&p.authorize_url(&[])).await);
    let page = fourth
        .fill(
            &p.base,
            &to_login,
            "/login",
            &[("username", "bjensen"), ("password", PASSWORD)],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Use a passkey"), "{page}");
    let fields = [
        ("authz", hidden(&page, "authz")),
        ("csrf_token", hidden(&page, "csrf_token")),
        ("pending", hidden(&page, "pending")),
    ];
    let offer = json_of(
        fourth
            .post(
                &format!("{}/login/factor/passkey/options", p.base),
                &form(&fields),
            )
            .await,
    )
    .await;
    let allowed = &offer["publicKey"]["allowCredentials"];
    assert_eq!(
        allowed[0]["id"],
        b64(&authenticator.credential_id),
        "{offer}"
    );
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    let mut fields = fields.to_vec();
    fields.push((
        "challenge_id",
        offer["challenge_id"].as_str().unwrap().to_owned(),
    ));
    fields.push(("credential", credential.to_string()));
    let to = location(
        &fourth
            .post(&format!("{}/login/factor/passkey", p.base), &form(&fields))
            .await,
    );
    let claims = id_token_claims(&p, &mut fourth, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));

    // A passkey's public key is no secret, but nothing of a response or of
    // the recovery codes reaches a log either.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains(credential["response"]["signature"].as_str().unwrap()));
}

/// Each wrong answer is refused with the page's one message, logged with
/// its reason, and never opens a session.
#[tokio::test]
async fn wrong_passkey_answers_are_refused() {
    let p = Provider::start().await;
    let (_, mut authenticator) = with_passkey(&p).await;
    let cases = [
        (
            "wrong_origin",
            Answer {
                origin: "https://auth.example.test.evil.example".into(),
                ..Answer::default()
            },
        ),
        (
            "wrong_rp_id",
            Answer {
                rp_id: Some("example.test".into()),
                ..Answer::default()
            },
        ),
        (
            "user_not_verified",
            Answer {
                flags: UP,
                ..Answer::default()
            },
        ),
        (
            // Registered as device-bound: it cannot claim to be synced now
            // (§6.1.3).
            "invalid_response",
            Answer {
                flags: UP | UV | BE | BS,
                ..Answer::default()
            },
        ),
    ];
    for (reason, answer) in cases {
        let mut browser = Browser::new();
        let (html, offer) = passwordless_offer(&p, &mut browser).await;
        let credential = authenticator.assert(&offer["publicKey"], &answer);
        let refused = post_passwordless(&p, &mut browser, (&html, &offer), &credential).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{reason}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("could not sign you in")
        );
        assert!(browser.cookies.keys().all(|name| !name.contains("session")));
        assert!(
            p.server
                .json_logs()
                .iter()
                .any(|l| l["event"] == "mfa_challenge_failed"
                    && l["method"] == "passkey"
                    && l["reason"] == reason),
            "{reason}"
        );
    }

    // A good answer moves the counter on; then one that goes back is a
    // cloned authenticator.
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let good = authenticator.assert(
        &offer["publicKey"],
        &Answer {
            counter: Some(10),
            ..Answer::default()
        },
    );
    location(&post_passwordless(&p, &mut browser, (&html, &offer), &good).await);
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let cloned = authenticator.assert(
        &offer["publicKey"],
        &Answer {
            counter: Some(7),
            ..Answer::default()
        },
    );
    let refused = post_passwordless(&p, &mut browser, (&html, &offer), &cloned).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let event = p.server.security_event("passkey_clone_suspected").await;
    assert_eq!(event["user_id"], p.user_id.as_str());

    // Garbage is refused as a page, not a 500; an unknown challenge too.
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    for credential in [json!("not a credential"), json!({"id": "x"})] {
        let refused = post_passwordless(&p, &mut browser, (&html, &offer), &credential).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let unknown = json!({"challenge_id": "nope"});
    let refused = post_passwordless(&p, &mut browser, (&html, &unknown), &json!({})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // The library's own lines (ERROR for each refusal, whole credentials
    // at debug) stay out of the log, even at AUTH_LOG_LEVEL=debug.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains("webauthn_rs"), "{logs}");
}

#[tokio::test]
async fn a_passkey_is_registered_once_and_only_from_this_origin() {
    let p = Provider::start().await;
    let (mut browser, mut authenticator) = with_passkey(&p).await;
    // The same credential again (an authenticator ignoring
    // excludeCredentials): one factor per credential.
    let (status, html) = register(&p, &mut browser, &mut authenticator, &Answer::default()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    let mut other = Authenticator::new();
    let wrong_origin = Answer {
        origin: "https://evil.example".into(),
        ..Answer::default()
    };
    let (status, _) = register(&p, &mut browser, &mut other, &wrong_origin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let no_uv = Answer {
        flags: UP,
        ..Answer::default()
    };
    let (status, _) = register(&p, &mut browser, &mut other, &no_uv).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let factors = p.cli(&["user", "mfa", "list", &p.user_id]);
    let passkeys = factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "passkey")
        .count();
    assert_eq!(passkeys, 1, "{factors}");
}
