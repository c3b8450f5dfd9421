"""An MCP client's sign-in against a running auth-service, with the OAuth
client of the official MCP Python SDK (`mcp.client.auth`): it calls the
SCIM API, is refused with 401 and `resource_metadata` (RFC 9728 §5.1),
fetches the resource's metadata, the authorization server's (RFC 8414),
registers itself (RFC 7591), runs the code flow with PKCE and `resource`
(RFC 8707), and calls SCIM again with the token. Then the same token is
shown to another resource (userinfo), which must refuse it.

Usage: mcp_flow.py BASE_URL USERNAME PASSWORD
  BASE_URL  the issuer, e.g. http://127.0.0.1:8080 (AUTH_ISSUER=self)

The user's part (the sign-in and consent pages) is played by a second
HTTP client that fills the forms. Prints each request and status line;
exits 0 when the flow ends as it should, 1 otherwise. The integration test
`an_mcp_client_discovers_registers_and_calls_scim` runs it (scripts/test
installs the pinned SDK into target/test-venv).
"""

import asyncio
import html
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

REDIRECT = "http://127.0.0.1:33418/callback"


class MemoryStorage:
    """The SDK's TokenStorage protocol, in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"\s+value="([^"]*)"', page)
    if match is None:
        raise SystemExit(f"no hidden field {name} in:\n{page[:2000]}")
    return html.unescape(match.group(1))


async def log_request(request):
    print(f"> {request.method} {request.url}")


async def log_response(response):
    print(f"< {response.status_code} {response.reason_phrase}")


class User:
    """The person at the browser: signs in and allows, returns the callback."""

    def __init__(self, base: str, username: str, password: str):
        self.base = base
        self.username = username
        self.password = password
        self.callback = None

    async def authorize(self, url: str) -> None:
        hooks = {"request": [log_request], "response": [log_response]}
        async with httpx2.AsyncClient(follow_redirects=False, event_hooks=hooks) as browser:
            query = parse_qs(urlparse(url).query)
            assert query.get("resource") == [f"{self.base}/scim/v2"], query
            assert query.get("code_challenge_method") == ["S256"], query
            to_login = (await browser.get(url)).headers["location"]
            page = (await browser.get(urljoin(self.base, to_login))).text
            form = {
                "authz": hidden(page, "authz"),
                "csrf_token": hidden(page, "csrf_token"),
                "username": self.username,
                "password": self.password,
            }
            to_consent = (await browser.post(f"{self.base}/login", data=form)).headers["location"]
            page = (await browser.get(urljoin(self.base, to_consent))).text
            assert "scim:read" in page, page[:2000]
            form = {
                "authz": hidden(page, "authz"),
                "csrf_token": hidden(page, "csrf_token"),
                "decision": "allow",
            }
            back = await browser.post(f"{self.base}/consent", data=form)
            self.callback = back.headers["location"]

    async def callback_result(self) -> AuthorizationCodeResult:
        query = parse_qs(urlparse(self.callback).query)
        if "code" not in query:
            raise SystemExit(f"the authorization failed: {self.callback}")
        return AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],
        )


async def main(base: str, username: str, password: str) -> int:
    user = User(base, username, password)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{base}/scim/v2",
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK test client",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user.authorize,
        callback_handler=user.callback_result,
    )
    hooks = {"request": [log_request], "response": [log_response]}
    async with httpx2.AsyncClient(auth=provider, event_hooks=hooks) as mcp:
        users = await mcp.get(f"{base}/scim/v2/Users")
    if users.status_code != 200:
        print(f"FAIL: SCIM answered {users.status_code}: {users.text}")
        return 1
    listed = [u["userName"] for u in users.json()["Resources"]]
    print(f"SCIM Users: {listed}")
    info = storage.client_info
    print(f"registered client_id={info.client_id} method={info.token_endpoint_auth_method}")
    token = storage.tokens.access_token

    # The token is for the SCIM API (aud), not for the issuer's userinfo.
    async with httpx2.AsyncClient(event_hooks=hooks) as other:
        refused = await other.get(
            f"{base}/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
    if refused.status_code != 401:
        print(f"FAIL: userinfo took a SCIM token: {refused.status_code}")
        return 1
    print(f"userinfo refused the SCIM token: {refused.headers.get('www-authenticate')}")
    print("MCP flow: ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    sys.exit(asyncio.run(main(*sys.argv[1:])))
