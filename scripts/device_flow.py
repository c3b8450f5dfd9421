"""The device authorization grant (RFC 8628) against a running
auth-service, by a client that is not ours: only `requests` and the
standard library. It plays the device (discovery, the device authorization
request, polling with the intervals the server gives) and the user's
browser (the verification page, the login form, the decision page, read
as HTML forms), and prints a transcript of what went over the wire.

Usage: device_flow.py BASE_URL CLIENT_ID USERNAME PASSWORD
  BASE_URL   the issuer, e.g. http://127.0.0.1:8080 (AUTH_ISSUER=self)
  CLIENT_ID  a public client registered for the device_code grant with
             scope "openid profile"
  USERNAME/PASSWORD  a user without a second factor

Exits 1 at the first check that fails. The integration test
`a_client_that_is_not_ours_drives_the_device_flow` runs it.
"""

import base64
import html
import json
import re
import sys
import time
from urllib.parse import urljoin

import requests

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def check(name, ok, detail=""):
    if not ok:
        fail(f"{name}: {detail}")
    print(f"ok   {name}")


def show(label, response):
    """One transcript line: the request and the status, with a JSON body."""
    request = response.request
    url = request.url.split("?authz=")[0] + ("?authz=…" if "?authz=" in request.url else "")
    print(f">>> {request.method} {url}")
    body = ""
    if response.headers.get("content-type", "").startswith("application/json"):
        data = response.json()
        # Codes and tokens are credentials: shown shortened.
        shown = {
            k: (v[:12] + "…" if k in ("device_code", "access_token", "refresh_token", "id_token") else v)
            for k, v in data.items()
        }
        body = " " + json.dumps(shown)
    elif "location" in response.headers:
        body = " -> " + response.headers["location"].split("?")[0] + "?…"
    print(f"<<< {response.status_code} {label}{body}")


def field(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    if not match:
        fail(f"no {name} field in the page")
    return html.unescape(match.group(1))


def form_action(page):
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    if not match:
        fail("no form in the page")
    return match.group(1)


def main():
    base, client_id, username, password = sys.argv[1:5]
    device = requests.Session()
    metadata = device.get(f"{base}/.well-known/openid-configuration").json()
    endpoint = metadata.get("device_authorization_endpoint")
    check("discovery names the device authorization endpoint", endpoint == f"{base}/device_authorization", endpoint)
    check("discovery lists the grant", GRANT in metadata["grant_types_supported"])

    started = device.post(endpoint, data={"client_id": client_id, "scope": "openid profile"})
    show("device authorization", started)
    check("device authorization answers 200", started.status_code == 200, started.text)
    check("no-store", started.headers.get("cache-control") == "no-store")
    codes = started.json()
    check("user code is XXXX-XXXX", re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", codes["user_code"]), codes["user_code"])
    interval = codes["interval"]

    def poll():
        response = device.post(
            metadata["token_endpoint"],
            data={"grant_type": GRANT, "device_code": codes["device_code"], "client_id": client_id},
        )
        show("poll", response)
        return response

    pending = poll()
    check("authorization_pending before the user acts", pending.json().get("error") == "authorization_pending", pending.text)

    browser = requests.Session()
    page = browser.get(codes["verification_uri_complete"], allow_redirects=False)
    show("verification page", page)
    check("the code is filled in", field(page.text, "user_code") == codes["user_code"])
    entered = browser.post(
        urljoin(base, form_action(page.text)),
        data={"csrf_token": field(page.text, "csrf_token"), "user_code": field(page.text, "user_code")},
        allow_redirects=False,
    )
    show("code entered", entered)
    check("entering the code leads to sign-in", entered.status_code == 303 and entered.headers["location"].startswith("/login"))
    login = browser.get(urljoin(base, entered.headers["location"]), allow_redirects=False)
    show("login page", login)
    signed_in = browser.post(
        urljoin(base, form_action(login.text)),
        data={
            "authz": field(login.text, "authz"),
            "csrf_token": field(login.text, "csrf_token"),
            "username": username,
            "password": password,
        },
        allow_redirects=False,
    )
    show("signed in", signed_in)
    check("signing in leads to the decision", signed_in.status_code == 303 and signed_in.headers["location"].startswith("/device/confirm"))
    decision = browser.get(urljoin(base, signed_in.headers["location"]), allow_redirects=False)
    show("decision page", decision)
    check("the page names the scope", "<li>profile</li>" in decision.text)
    decided = browser.post(
        urljoin(base, form_action(decision.text)),
        data={
            "authz": field(decision.text, "authz"),
            "csrf_token": field(decision.text, "csrf_token"),
            "decision": "allow",
        },
        allow_redirects=False,
    )
    show("approved", decided)
    check("approved", decided.status_code == 200 and "Device connected" in decided.text, decided.text)

    # As a device should (§3.5): wait the interval, longer after slow_down.
    for _ in range(5):
        time.sleep(interval + 0.2)
        response = poll()
        error = response.json().get("error")
        if error == "slow_down":
            interval += 5
            continue
        break
    check("tokens once approved", response.status_code == 200, response.text)
    tokens = response.json()
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    check("the ID token is for this client", claims["aud"] == client_id, claims)
    info = device.get(metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    show("userinfo", info)
    check("userinfo names the same user", info.status_code == 200 and info.json()["sub"] == claims["sub"], info.text)
    print("device flow: ok")


if __name__ == "__main__":
    main()
