"""Back-channel logout delivery figures against a running auth-service:
how long from a session's end to the relying party's 200, one at a time
and for a burst, and how retries stretch it.

Usage: backchannel.py BASE CLIENT_ID CLIENT_SECRET USERNAME PASSWORD PORT N AUTH_SERVICE
  the client must be registered with --backchannel-logout-uri
  http://127.0.0.1:PORT/bcl, a redirect URI https://rp.example/cb and a
  post-logout redirect URI https://rp.example/bye; AUTH_SERVICE is the CLI
  (the burst is ended by `user mfa reset`).

Prints three figures:
  sequential  N RP-initiated logouts one after another: latency p50/p99/max
  burst       N sessions ended at once (an operator's MFA reset): the time
              until the last of N logout tokens arrived, and the rate
  retries     N logouts to a receiver that fails each token's first two
              attempts: latency p50/max (the 1 s + 2 s backoff) and attempts
"""

import base64
import hashlib
import html
import json
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The default listen backlog (5) drops the connections of a burst, which
# then wait a second for TCP to retry: a receiver's limit, not the sender's.
ThreadingHTTPServer.request_queue_size = 256

import requests

base, client_id, client_secret, username, password, port, count, cli = sys.argv[1:9]
port, count = int(port), int(count)
REDIRECT, BYE = "https://rp.example/cb", "https://rp.example/bye"

arrivals = {}  # sid -> arrival time
attempts = {}  # jti -> attempts seen
fail_first = [0]
lock = threading.Condition()


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        token = urllib.parse.parse_qs(body.decode())["logout_token"][0]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        with lock:
            seen = attempts.get(claims["jti"], 0) + 1
            attempts[claims["jti"]] = seen
            if seen <= fail_first[0]:
                status = 500
            else:
                arrivals.setdefault(claims["sid"], time.monotonic())
                status = 200
            lock.notify_all()
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def hidden(page, name):
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def sign_in():
    """A fresh browser through login (and consent once): (session, id token)."""
    browser = requests.Session()
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": "openid", "state": "s", "nonce": "n", "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    to_login = browser.get(f"{base}/authorize?{query}", allow_redirects=False).headers["Location"]
    page = browser.get(urllib.parse.urljoin(base, to_login)).text
    answer = browser.post(f"{base}/login", data={
        "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
        "username": username, "password": password,
    }, allow_redirects=False)
    target = answer.headers["Location"]
    if target.startswith("/consent"):
        page = browser.get(urllib.parse.urljoin(base, target)).text
        target = browser.post(f"{base}/consent", data={
            "authz": hidden(page, "authz"), "csrf_token": hidden(page, "csrf_token"),
            "decision": "allow",
        }, allow_redirects=False).headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(target).query)["code"][0]
    tokens = requests.post(f"{base}/token", auth=(client_id, client_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }).json()
    return browser, tokens["id_token"]


def sid_of(id_token):
    return json.loads(base64.urlsafe_b64decode(id_token.split(".")[1] + "=="))["sid"]


def wait_for(sids, limit=120):
    deadline = time.monotonic() + limit
    with lock:
        while not all(s in arrivals for s in sids):
            if not lock.wait(timeout=deadline - time.monotonic()):
                sys.exit(f"only {sum(s in arrivals for s in sids)} of {len(sids)} arrived")


def logout(browser, id_token):
    query = urllib.parse.urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": BYE})
    started = time.monotonic()
    answer = browser.get(f"{base}/logout?{query}", allow_redirects=False)
    assert answer.headers["Location"] == BYE, answer.status_code
    return started


def sequential(label):
    latencies = []
    for _ in range(count):
        browser, id_token = sign_in()
        started = logout(browser, id_token)
        wait_for([sid_of(id_token)])
        latencies.append((arrivals[sid_of(id_token)] - started) * 1000)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"{label}: {count} logouts, latency p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
    return latencies


server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()

sequential("sequential")

sessions = [sign_in() for _ in range(count)]
started = time.monotonic()
subprocess.run([cli, "user", "mfa", "reset", json.loads(base64.urlsafe_b64decode(
    sessions[0][1].split(".")[1] + "=="))["sub"]], check=True, capture_output=True)
queued = time.monotonic()
sids = [sid_of(t) for _, t in sessions]
wait_for(sids)
first = min(arrivals[s] for s in sids) - queued
last = max(arrivals[s] for s in sids) - queued
print(f"burst: {count} sessions ended at once by the CLI (which took {(queued - started) * 1000:.0f} ms); "
      f"after it, the first token arrived at {first * 1000:.0f} ms (the replica's next poll), "
      f"the last at {last * 1000:.0f} ms: {count / (last - first):.0f} tokens/s delivered")

fail_first[0] = 2
latencies = sequential("retries (two failures each)")
retried = [a for a in attempts.values() if a >= 3]
print(f"retries: {len(retried)} tokens took 3 attempts; none needed more: "
      f"{all(a == 3 for a in retried)}")
server.shutdown()
