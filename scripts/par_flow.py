"""Pushed authorization requests (RFC 9126) against a running
auth-service, by a client that is not ours: authlib's OAuth2Session
(PKCE, client authentication, the token request) and authlib.jose (the
ID token through the JWKS), with the login page read as an HTML form.

Usage: par_flow.py BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
  BASE_URL   the issuer (AUTH_ISSUER=self)
  the client: confidential, redirect URI http://127.0.0.1:9/callback,
  scope "openid profile", first party (no consent page)

Checks: discovery names the endpoint; the push answers 201 with a
request_uri; /authorize with only client_id and request_uri signs the
user in and returns a code for the pushed redirect URI and state; the
code gives tokens whose ID token carries the pushed nonce; the same
request_uri a second time is refused (invalid_request_uri). Prints
"par flow: ok" at the end; exits 1 at the first check that fails.
"""

import html
import re
import sys
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

REDIRECT = "http://127.0.0.1:9/callback"


def check(name, ok, detail=""):
    if not ok:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def hidden(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def main():
    base, client_id, client_secret, username, password = sys.argv[1:6]
    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    par = meta.get("pushed_authorization_request_endpoint")
    check("discovery names the PAR endpoint", par == f"{base}/par", par)
    client = OAuth2Session(
        client_id, client_secret, scope="openid profile", redirect_uri=REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    nonce = generate_token(16)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    # The request authlib built, pushed instead of sent through the browser.
    pushed = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    answer = requests.post(par, data=pushed, auth=(client_id, client_secret))
    check("the push answers 201", answer.status_code == 201, answer.text)
    check("no-store", answer.headers.get("cache-control") == "no-store", answer.headers)
    body = answer.json()
    request_uri = body["request_uri"]
    check("a request_uri URN", request_uri.startswith("urn:ietf:params:oauth:request_uri:"), body)
    check("expires_in", 5 <= body["expires_in"] <= 600, body)

    browser = requests.Session()
    start = f"{meta['authorization_endpoint']}?" + urlencode({"client_id": client_id, "request_uri": request_uri})
    to_login = browser.get(start, allow_redirects=False)
    check("to the login page", to_login.status_code == 303, to_login.status_code)
    page = browser.get(urljoin(base, to_login.headers["location"])).text
    signed_in = browser.post(f"{base}/login", data={
        "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
        "username": username, "password": password,
    }, allow_redirects=False)
    callback = signed_in.headers.get("location", "")
    check("back to the pushed redirect URI", callback.startswith(REDIRECT + "?"), callback)
    returned = parse_qs(urlparse(callback).query)
    check("with the pushed state", returned.get("state") == [state], returned)

    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    claims = jwt.decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "nonce": {"essential": True, "value": nonce},
    })
    claims.validate()
    check("the ID token verifies and carries the pushed nonce", claims["nonce"] == nonce, claims)

    again = requests.Session().get(start, allow_redirects=False)
    check("the request_uri is single-use", again.status_code == 400 and "invalid_request_uri" in again.text,
          f"{again.status_code} {again.text[:200]}")
    print("par flow: ok")


if __name__ == "__main__":
    main()
