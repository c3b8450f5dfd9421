"""The hostile client of scripts/hostile: bounded phases, loopback only.

    hostile.py scim BASE CLIENT_ID SECRET PID
    hostile.py connections BASE COUNT
    hostile.py burst BASE UNDER OVER CONCURRENCY
"""

import base64
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def request(method, url, body=None, headers=None, timeout=60):
    data = body if isinstance(body, (bytes, type(None))) else body.encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def token(base, client_id, secret):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    status, body = request(
        "POST", f"{base}/token", "grant_type=client_credentials",
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    return json.loads(body)["access_token"]


def scim(base, client_id, secret, pid):
    bearer = token(base, client_id, secret)
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/scim+json"}
    status, body = request("POST", f"{base}/scim/v2/Users", json.dumps({"userName": "target"}), headers)
    user = json.loads(body)["id"]
    clause = 'emails[type eq "w"].value eq "x"'
    huge = " or ".join([clause] * (900 * 1024 // (len(clause) + 4)))
    near_cap = " or ".join([clause] * (16 * 1024 // (len(clause) + 4) - 1))
    emails = [{"value": f"e{i}@example.com", "type": "work"} for i in range(15000)]
    members = [{"value": f"m{i}"} for i in range(20000)]
    worst = [
        ("POST", "/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": huge}),
        ("POST", "/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": near_cap}),
        ("PATCH", f"/Users/{user}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                     "Operations": [{"op": "add", "path": "emails", "value": emails}]}),
        ("POST", "/Groups", {"displayName": "big", "members": members}),
    ]
    before = rss_mb(pid)
    stop = threading.Event()
    probes = []

    def probe():
        while not stop.is_set():
            started = time.monotonic()
            status, _ = request("GET", f"{base}/health/live", timeout=30)
            probes.append((time.monotonic() - started) * 1000)
            assert status == 200
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    answers = {}
    started = time.monotonic()
    # Two clients at once, 20 rounds each: bounded.
    def client(_):
        for _ in range(20):
            for method, path, body in worst:
                status, reply = request(method, f"{base}/scim/v2{path}", json.dumps(body), headers)
                key = f"{method} {path.split('/')[1]} -> {status}"
                answers[key] = answers.get(key, 0) + 1
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(client, range(2)))
    elapsed = time.monotonic() - started
    stop.set()
    prober.join()
    probes.sort()
    print(f"  answers: {answers} in {elapsed:.1f} s")
    print(f"  /health/live during them: {len(probes)} probes, p50 {probes[len(probes) // 2]:.1f} ms, "
          f"p99 {probes[int(len(probes) * 0.99)]:.1f} ms, max {probes[-1]:.1f} ms")
    print(f"  RSS before {before:.1f} MB, right after {rss_mb(pid):.1f} MB", end="")
    time.sleep(60)
    print(f", a minute later {rss_mb(pid):.1f} MB")


def connections(base, count):
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    held = []
    refused = 0
    for _ in range(int(count)):
        try:
            s = socket.create_connection((host, int(port)), timeout=2)
            held.append(s)
        except OSError:
            refused += 1
    time.sleep(1)
    started = time.monotonic()
    status, _ = request("GET", f"{base}/health/live", timeout=30)
    served = (time.monotonic() - started) * 1000
    alive = 0
    for s in held:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print(f"  opened {len(held)} idle connections ({refused} refused); a normal request: {status} in {served:.0f} ms; "
          f"{alive} idle connections still open after it")
    for s in held:
        s.close()


def burst(base, under, over, concurrency):
    def one(_):
        status, _ = request("POST", f"{base}/token", "grant_type=client_credentials",
                            {"Authorization": "Basic " + base64.b64encode(b"nobody:x").decode(),
                             "Content-Type": "application/x-www-form-urlencoded"})
        return status
    for label, count in (("under", int(under)), ("over", int(over))):
        with ThreadPoolExecutor(int(concurrency)) as pool:
            statuses = list(pool.map(one, range(count)))
        print(f"  {label} the limit: {count} requests, {statuses.count(429)} × 429")
    print(f"  a lone request after: {one(0)}")


if __name__ == "__main__":
    {"scim": lambda a: scim(a[0], a[1], a[2], int(a[3])),
     "connections": lambda a: connections(a[0], a[1]),
     "burst": lambda a: burst(*a)}[sys.argv[1]](sys.argv[2:])
