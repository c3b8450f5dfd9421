"""A relying party's back-channel logout endpoint (OpenID Connect
Back-Channel Logout 1.0 §2.5-§2.8) for tests: it validates each logout
token with jwcrypto, a JOSE library that is not ours, and reports every
delivery as one JSON line on stdout.

Usage: backchannel_receiver.py --jwks URL --issuer ISS --audience CLIENT_ID
                               [--port P] [--fail N] [--hold N] [--lifetime SECONDS]
  --port P    listen on 127.0.0.1:P (default: any free port)
  --fail N    answer the first N deliveries 500 (a receiver that is down)
  --hold N    hold the first N deliveries without answering (a receiver
              that hangs; the sender's timeout or death ends them)
  --lifetime  exit after this many seconds (default 120): bounded

The first line is "listening PORT". Then one line per delivery, with
"outcome": "failed" (--fail), "held" (--hold), "accepted" (valid and new:
200), "replayed" (a jti seen before: 400) or "refused" (invalid: 400,
with "reason"). An accepted line carries the token's header and claims.
"""

import argparse
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The default listen backlog (5) drops the connections of a burst, which
# then wait a second for TCP to retry: a receiver's limit, not the sender's.
ThreadingHTTPServer.request_queue_size = 256

from jwcrypto import jwk, jwt

EVENT = "http://schemas.openid.net/event/backchannel-logout"

lock = threading.Lock()
seen_jti = set()
deliveries = 0


def report(line):
    with lock:
        print(json.dumps(line), flush=True)


keys = None


def fetch_keys(args):
    global keys
    keys = jwk.JWKSet.from_json(urllib.request.urlopen(args.jwks, timeout=5).read())


def validate(raw, args):
    """The §2.6 checks; returns (header, claims) or raises ValueError."""
    try:
        return check(raw, args)
    except jwt.JWTMissingKey:
        # A key published since: fetch the set again, once, as RPs do.
        fetch_keys(args)
        return check(raw, args)


def check(raw, args):
    token = jwt.JWT(
        jwt=raw,
        key=keys,
        algs=["RS256", "ES256"],
        check_claims={"iss": args.issuer, "aud": args.audience, "exp": None, "iat": None},
        expected_type="JWS",
    )
    header = json.loads(token.header)
    claims = json.loads(token.claims)
    if header.get("typ") != "logout+jwt":
        raise ValueError(f"typ is {header.get('typ')!r}, not logout+jwt")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise ValueError("no jti")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise ValueError(f"events does not name {EVENT}")
    if "sub" not in claims and "sid" not in claims:
        raise ValueError("neither sub nor sid")
    if "nonce" in claims:
        raise ValueError("a logout token must not carry a nonce (section 2.4)")
    if claims["exp"] - claims["iat"] > 300:
        raise ValueError("lives longer than five minutes")
    return header, claims


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global deliveries
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        with lock:
            deliveries += 1
            number = deliveries
        if number <= self.server.args.hold:
            report({"outcome": "held", "delivery": number})
            time.sleep(self.server.args.lifetime)
            return
        if number <= self.server.args.hold + self.server.args.fail:
            report({"outcome": "failed", "delivery": number})
            self.answer(500)
            return
        content_type = self.headers.get("Content-Type", "")
        try:
            if not content_type.startswith("application/x-www-form-urlencoded"):
                raise ValueError(f"Content-Type {content_type!r}")
            tokens = form.get("logout_token", [])
            if len(tokens) != 1:
                raise ValueError("not exactly one logout_token")
            header, claims = validate(tokens[0], self.server.args)
        except Exception as e:  # every refusal is a 400 (section 2.8)
            report({"outcome": "refused", "delivery": number, "reason": str(e)})
            self.answer(400, b'{"error":"invalid_request"}')
            return
        with lock:
            replayed = claims["jti"] in seen_jti
            seen_jti.add(claims["jti"])
        if replayed:
            report({"outcome": "replayed", "delivery": number, "claims": claims})
            self.answer(400, b'{"error":"invalid_request"}')
            return
        report({"outcome": "accepted", "delivery": number, "header": header, "claims": claims})
        self.answer(200)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--lifetime", type=int, default=120)
    args = parser.parse_args()
    # Before any delivery, as a relying party caches its provider's keys:
    # a delivery from another replica still verifies.
    fetch_keys(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.args = args
    print(f"listening {server.server_address[1]}", flush=True)
    threading.Timer(args.lifetime, lambda: server.shutdown()).start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
