"""DPoP (RFC 9449) against a running auth-service, with proofs made by an
independent implementation (jwcrypto): bound tokens at /token, the checks
of §4.3 (htu, jti replay, iat, ath, the key), a bound token at a resource
(SCIM) with and without its proof, introspection's cnf, server nonces, and
a public client's refresh token bound to its key.

Usage: dpop_checks.py BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD [nonce]
  BASE_URL       the issuer, e.g. http://127.0.0.1:8080 (AUTH_ISSUER=self)
  CLIENT_ID/SECRET  a client_credentials client with scope scim:read
  USERNAME/PASSWORD a user, for the public client's code flow (which
                 registers itself: AUTH_REGISTRATION=open)
  nonce          the server runs with AUTH_DPOP_NONCE=on

Prints one line per check; exits 1 at the first that fails. The
integration test `dpop_proofs_from_jwcrypto` runs it.
"""

import base64
import hashlib
import html
import json
import re
import sys
import time
import uuid
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx2
from jwcrypto import jwk, jws

REDIRECT = "http://127.0.0.1:33418/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}")
    if not ok:
        failures += 1
        raise SystemExit(1)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proof(key, alg, htm, htu, *, iat=None, jti=None, token=None, nonce=None):
    claims = {"jti": jti or str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": iat or int(time.time())}
    if token is not None:
        claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": json.loads(key.export_public())}
    signed = jws.JWS(json.dumps(claims))
    signed.add_signature(key, alg=alg, protected=json.dumps(header))
    return signed.serialize(compact=True)


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def hidden(page, name):
    return html.unescape(re.search(rf'name="{name}"\s+value="([^"]*)"', page).group(1))


def main(base, client_id, secret, username, password, mode=""):
    with_nonce = mode == "nonce"
    http = httpx2.Client()
    token_url = f"{base}/token"
    ec = jwk.JWK.generate(kty="EC", crv="P-256")
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    nonce = None

    def token_request(dpop=None, data=None, auth=(client_id, secret)):
        headers = {"DPoP": dpop} if dpop else {}
        form = data or {"grant_type": "client_credentials", "scope": "scim:read"}
        return http.post(token_url, data=form, headers=headers, auth=auth)

    if with_nonce:
        first = token_request(proof(ec, "ES256", "POST", token_url))
        check("without the nonce: 400 use_dpop_nonce", first.status_code == 400
              and first.json()["error"] == "use_dpop_nonce", first.text)
        nonce = first.headers.get("dpop-nonce")
        check("the refusal carries DPoP-Nonce", bool(nonce), first.headers)
        forged = token_request(proof(ec, "ES256", "POST", token_url, nonce="1.AAAA"))
        check("a forged nonce: use_dpop_nonce", forged.json().get("error") == "use_dpop_nonce", forged.text)

    def fresh(key=ec, alg="ES256", **kw):
        return proof(key, alg, "POST", token_url, nonce=nonce, **kw)

    answer = token_request(fresh())
    check("client_credentials with a proof: 200", answer.status_code == 200, answer.text)
    body = answer.json()
    check("token_type DPoP (§5.1)", body["token_type"] == "DPoP", body)
    token = body["access_token"]
    check("cnf.jkt is the key's RFC 7638 thumbprint",
          claims_of(token).get("cnf") == {"jkt": ec.thumbprint()}, claims_of(token))
    if with_nonce:
        print("nonce mode: done")
        return 0

    for kty, alg in [({"kty": "OKP", "crv": "Ed25519"}, "EdDSA"), ({"kty": "RSA", "size": 2048}, "RS256")]:
        key = jwk.JWK.generate(**kty)
        answer = token_request(proof(key, alg, "POST", token_url))
        check(f"{alg} proof: 200", answer.status_code == 200, answer.text)
        check(f"{alg}: bound to its key",
              claims_of(answer.json()["access_token"])["cnf"]["jkt"] == key.thumbprint())

    replayed = fresh()
    token_request(replayed)
    answer = token_request(replayed)
    check("a replayed jti: 400 invalid_dpop_proof", answer.status_code == 400
          and answer.json()["error"] == "invalid_dpop_proof", answer.text)
    answer = token_request(proof(ec, "ES256", "POST", f"{base}/other"))
    check("a wrong htu: invalid_dpop_proof", answer.json().get("error") == "invalid_dpop_proof", answer.text)
    answer = token_request(proof(ec, "ES256", "GET", token_url))
    check("a wrong htm: invalid_dpop_proof", answer.json().get("error") == "invalid_dpop_proof", answer.text)
    answer = token_request(fresh(iat=int(time.time()) - 300))
    check("a stale iat: invalid_dpop_proof", answer.json().get("error") == "invalid_dpop_proof", answer.text)
    forged = fresh().split(".")
    forged[2] = b64(b"\x00" * 64)
    answer = token_request(".".join(forged))
    check("a bad signature: invalid_dpop_proof", answer.json().get("error") == "invalid_dpop_proof", answer.text)
    answer = http.post(token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                       headers=[("DPoP", fresh()), ("DPoP", fresh())])
    check("two DPoP headers: invalid_dpop_proof", answer.json().get("error") == "invalid_dpop_proof", answer.text)

    users = f"{base}/scim/v2/Users"

    def scim(scheme, dpop=None):
        headers = {"Authorization": f"{scheme} {token}"}
        if dpop:
            headers["DPoP"] = dpop
        return http.get(users, headers=headers)

    answer = scim("DPoP", proof(ec, "ES256", "GET", users, token=token))
    check("SCIM with the DPoP scheme and a proof: 200", answer.status_code == 200, answer.text)
    answer = scim("Bearer")
    check("the bound token as Bearer: 401", answer.status_code == 401, answer.text)
    challenges = answer.headers.get_list("www-authenticate")
    check("with the DPoP challenge (§7.1)", any(c.startswith("DPoP ") for c in challenges), challenges)
    answer = scim("DPoP")
    check("the DPoP scheme without a proof: 401", answer.status_code == 401, answer.text)
    answer = scim("DPoP", proof(ec, "ES256", "GET", users))
    check("a proof without ath: 401 invalid_dpop_proof", answer.status_code == 401
          and 'error="invalid_dpop_proof"' in str(answer.headers.get_list("www-authenticate")), answer.headers)
    answer = scim("DPoP", proof(other, "ES256", "GET", users, token=token))
    check("a proof by another key: 401", answer.status_code == 401, answer.text)
    answer = scim("DPoP", proof(ec, "ES256", "GET", f"{base}/scim/v2/Groups", token=token))
    check("a proof for another URL: 401", answer.status_code == 401, answer.text)

    introspected = http.post(f"{base}/introspect", data={"token": token}, auth=(client_id, secret)).json()
    check("introspection: cnf and token_type DPoP (§6.2)",
          introspected.get("cnf") == {"jkt": ec.thumbprint()} and introspected.get("token_type") == "DPoP",
          introspected)

    # A public client: its refresh tokens are bound to its key (§5).
    registered = http.post(f"{base}/register", json={
        "client_name": "DPoP app", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "scope": "openid offline_access",
    })
    check("a public client registers", registered.status_code == 201, registered.text)
    public_id = registered.json()["client_id"]
    browser = httpx2.Client()
    authorize = f"{base}/authorize?" + urlencode({
        "response_type": "code", "client_id": public_id, "redirect_uri": REDIRECT,
        "scope": "openid offline_access", "state": "s", "code_challenge": CHALLENGE,
        "code_challenge_method": "S256", "prompt": "consent",
    })
    to_login = browser.get(authorize).headers["location"]
    page = browser.get(urljoin(base, to_login)).text
    to_consent = browser.post(f"{base}/login", data={
        "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
        "username": username, "password": password}).headers["location"]
    page = browser.get(urljoin(base, to_consent)).text
    callback = browser.post(f"{base}/consent", data={
        "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
        "decision": "allow"}).headers["location"]
    code = parse_qs(urlparse(callback).query)["code"][0]
    answer = token_request(fresh(), {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": public_id, "code_verifier": VERIFIER}, auth=None)
    check("the code flow with a proof: 200 DPoP", answer.status_code == 200
          and answer.json()["token_type"] == "DPoP", answer.text)
    refresh = answer.json()["refresh_token"]
    bound = answer.json()["access_token"]
    userinfo = f"{base}/userinfo"
    answer = http.get(userinfo, headers={"Authorization": f"DPoP {bound}",
                                         "DPoP": proof(ec, "ES256", "GET", userinfo, token=bound)})
    check("userinfo with the DPoP scheme and a proof: 200", answer.status_code == 200, answer.text)
    answer = http.get(userinfo, headers={"Authorization": f"Bearer {bound}"})
    check("userinfo refuses the bound token as Bearer", answer.status_code == 401
          and any(c.startswith("DPoP ") for c in answer.headers.get_list("www-authenticate")), answer.headers)
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": public_id}
    answer = token_request(None, form, auth=None)
    check("its refresh without a proof: invalid_dpop_proof",
          answer.json().get("error") == "invalid_dpop_proof", answer.text)
    answer = token_request(fresh(key=other), form, auth=None)
    check("its refresh with another key: invalid_dpop_proof",
          answer.json().get("error") == "invalid_dpop_proof", answer.text)
    answer = token_request(fresh(), form, auth=None)
    check("its refresh with its key: 200, still bound", answer.status_code == 200
          and claims_of(answer.json()["access_token"])["cnf"]["jkt"] == ec.thumbprint(), answer.text)
    print("DPoP checks: ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (6, 7):
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
