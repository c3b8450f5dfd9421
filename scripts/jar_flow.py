"""JWT-secured authorization requests (RFC 9101) against a running
auth-service, by a client that is not ours: authlib.jose signs the request
objects and the client assertions (private_key_jwt) and verifies the ID
token; the login page is read as an HTML form.

Usage: jar_flow.py keygen PRIVATE_JWK PUBLIC_JWKS
       jar_flow.py flow BASE_URL CLIENT_ID PRIVATE_JWK USERNAME PASSWORD
  keygen  writes an RSA signing key, and the JWKS to register
          (client create --jwks-file PUBLIC_JWKS)
  flow    the client: private_key_jwt, redirect URI
          http://127.0.0.1:9/callback, scope "openid profile", first party,
          --require-signed-request-object

Checks: discovery says request objects are supported; a signed request at
/authorize signs the user in and returns a code for the object's redirect
URI and state, whatever the parameters beside it say; the ID token carries
the object's nonce; the same object pushed to /par works too; objects
signed by another key, for another audience or expired are refused with
invalid_request_object. Prints "jar flow: ok"; exits 1 at the first check
that fails.
"""

import html
import json
import re
import sys
import time
import uuid
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge

REDIRECT = "http://127.0.0.1:9/callback"


def check(name, ok, detail=""):
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def hidden(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def keygen(private_path, public_path):
    key = JsonWebKey.generate_key("RSA", 2048, options={"kid": "rp-jar-1"}, is_private=True)
    with open(private_path, "w") as f:
        f.write(json.dumps(key.as_dict(is_private=True)))
    public = key.as_dict(is_private=False)
    public.update({"use": "sig", "alg": "RS256"})
    with open(public_path, "w") as f:
        f.write(json.dumps({"keys": [public]}))


def flow(base, client_id, private_path, username, password):
    key = JsonWebKey.import_key(json.load(open(private_path)))
    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    check("discovery: request objects", meta.get("request_parameter_supported") is True, meta)
    check("discovery: RS256 objects", "RS256" in meta.get("request_object_signing_alg_values_supported", []), meta)
    issuer = meta["issuer"]

    def sign(claims, signing_key=key, kid="rp-jar-1"):
        header = {"alg": "RS256", "kid": kid, "typ": "oauth-authz-req+jwt"}
        return jwt.encode(header, claims, signing_key).decode()

    def assertion():
        now = int(time.time())
        return sign({"iss": client_id, "sub": client_id, "aud": issuer, "iat": now,
                     "exp": now + 60, "jti": str(uuid.uuid4())})

    def client_auth():
        return {"client_id": client_id, "client_assertion": assertion(),
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}

    def request_object(**overrides):
        verifier, nonce, state = generate_token(48), generate_token(16), generate_token(16)
        now = int(time.time())
        claims = {
            "iss": client_id, "aud": issuer, "iat": now, "nbf": now, "exp": now + 120,
            "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
            "scope": "openid profile", "state": state, "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        }
        claims.update(overrides)
        return claims, verifier

    def sign_in(query, claims, verifier, label):
        browser = requests.Session()
        to_login = browser.get(f"{meta['authorization_endpoint']}?{urlencode(query)}", allow_redirects=False)
        check(f"{label}: to the login page", to_login.status_code == 303, f"{to_login.status_code} {to_login.text[:300]}")
        page = browser.get(urljoin(base, to_login.headers["location"])).text
        signed_in = browser.post(f"{base}/login", data={
            "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
            "username": username, "password": password,
        }, allow_redirects=False)
        callback = signed_in.headers.get("location", "")
        check(f"{label}: back to the object's redirect URI", callback.startswith(REDIRECT + "?"), callback)
        returned = parse_qs(urlparse(callback).query)
        check(f"{label}: with the object's state", returned.get("state") == [claims["state"]], returned)
        tokens = requests.post(meta["token_endpoint"], data={
            "grant_type": "authorization_code", "code": returned["code"][0],
            "redirect_uri": REDIRECT, "code_verifier": verifier, **client_auth(),
        })
        check(f"{label}: tokens for a private_key_jwt client", tokens.status_code == 200, tokens.text)
        keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
        id_token = jwt.decode(tokens.json()["id_token"], keys, claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True, "value": claims["nonce"]},
        })
        id_token.validate()
        check(f"{label}: the ID token carries the object's nonce", True)

    # At /authorize: the parameters beside the object are ignored (§6.3).
    claims, verifier = request_object()
    sign_in({"client_id": client_id, "request": sign(claims), "state": "outer", "scope": "openid email",
             "redirect_uri": "https://evil.example/cb"}, claims, verifier, "request at /authorize")

    # Pushed (RFC 9126 §3), with the client's assertion.
    claims, verifier = request_object()
    pushed = requests.post(f"{base}/par", data={"request": sign(claims), **client_auth()})
    check("request pushed: 201", pushed.status_code == 201, pushed.text)
    sign_in({"client_id": client_id, "request_uri": pushed.json()["request_uri"]}, claims, verifier,
            "request pushed")

    # The client requires signed requests (RFC 9101 §10.5): a plain one is
    # refused, with the same parameters the object carried.
    claims, _ = request_object()
    plain = {k: v for k, v in claims.items() if k not in ("iss", "aud", "iat", "nbf", "exp")}
    page = requests.get(f"{meta['authorization_endpoint']}?" + urlencode(plain), allow_redirects=False)
    check("a plain request is refused", page.status_code == 400 and "signed request objects" in page.text,
          f"{page.status_code} {page.text[:300]}")

    # Refused: another key, another audience, expired, not yet valid, or a
    # claim named as only the server names its own markers.
    stranger = JsonWebKey.generate_key("RSA", 2048, options={"kid": "rp-jar-1"}, is_private=True)
    now = int(time.time())
    for label, request in [
        ("signed by another key", sign(request_object()[0], stranger)),
        ("for another audience", sign(request_object(aud="https://other.example")[0])),
        ("expired", sign(request_object(iat=now - 600, nbf=now - 600, exp=now - 300)[0])),
        ("not yet valid", sign(request_object(nbf=now + 600, exp=now + 900)[0])),
        ("with a reserved name", sign(request_object(**{"auth-service:pushed": "1"})[0])),
    ]:
        page = requests.get(f"{meta['authorization_endpoint']}?" + urlencode(
            {"client_id": client_id, "request": request}), allow_redirects=False)
        check(f"refused: {label}", page.status_code == 400 and "invalid_request_object" in page.text,
              f"{page.status_code} {page.text[:300]}")
        pushed = requests.post(f"{base}/par", data={"request": request, **client_auth()})
        check(f"refused at /par: {label}", pushed.status_code == 400
              and pushed.json().get("error") == "invalid_request_object", pushed.text)
    print("jar flow: ok")


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen(*sys.argv[2:4])
    else:
        flow(*sys.argv[2:7])
