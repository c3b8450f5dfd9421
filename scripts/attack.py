"""A bounded password-guessing attack on loopback, to show what the defaults
allow. Drives the real pages (/authorize, the login form, the form post) and
reads the server's own counters before and after each phase.

Usage: attack.py BASE CLIENT_ID REDIRECT_URI VICTIM SECONDS
Phases, SECONDS each, 4 threads:
  A  one IP, one account          (what one source gets against one user)
  B  50 IPs (X-Forwarded-For), one account  (a botnet against one user)
  C  one IP, many accounts        (one source spraying usernames)
The server must trust loopback as a proxy (AUTH_TRUSTED_PROXIES=127.0.0.1)
for phase B to look like 50 sources.
"""

import http.cookiejar
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def attempt(base, client_id, redirect, username, ip):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
    headers = {"X-Forwarded-For": ip}
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
        "scope": "openid", "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    })
    try:
        opener.open(urllib.request.Request(f"{base}/authorize?{query}", headers=headers))
        return "no-redirect"
    except urllib.error.HTTPError as e:
        if e.code == 429:
            return "429"
        location = e.headers.get("Location", "")
    if not location.startswith("/login"):
        return "unexpected"
    html = opener.open(urllib.request.Request(f"{base}{location}", headers=headers)).read().decode()
    fields = dict(re.findall(r'name="(authz|csrf_token)" value="([^"]*)"', html))
    body = urllib.parse.urlencode({**fields, "username": username, "password": "guess-" + str(time.time())}).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/login", data=body, headers=headers))
        return "200"
    except urllib.error.HTTPError as e:
        return str(e.code)


def counters(base):
    text = urllib.request.urlopen(f"{base}/metrics").read().decode()
    wanted = {}
    for line in text.splitlines():
        for name, key in [
            ('auth_login_attempts_total{outcome="failure",reason="bad_password"}', "checked"),
            ('auth_login_attempts_total{outcome="failure",reason="unknown_user"}', "checked_unknown"),
            ('auth_login_attempts_total{outcome="failure",reason="locked"}', "refused_locked"),
            ('auth_rate_limited_total{scope="login"}', "rate_limited_login"),
            ('auth_rate_limited_total{scope="authorize"}', "rate_limited_authorize"),
        ]:
            if line.startswith(name + " "):
                wanted[key] = int(float(line.rsplit(" ", 1)[1]))
    return wanted


def phase(name, base, client_id, redirect, seconds, pick):
    before = counters(base)
    answers = {}
    lock = threading.Lock()
    stop = time.time() + seconds
    count = [0]

    def worker():
        while time.time() < stop:
            with lock:
                n = count[0]
                count[0] += 1
            username, ip = pick(n)
            answer = attempt(base, client_id, redirect, username, ip)
            with lock:
                answers[answer] = answers.get(answer, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = counters(base)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    checks = delta.get("checked", 0) + delta.get("checked_unknown", 0)
    print(f"phase {name} ({seconds} s): {sum(answers.values())} attempts, answers {dict(sorted(answers.items()))}")
    print(f"    password checks run: {checks}; refused by the account lock: {delta.get('refused_locked', 0)}; "
          f"refused by per-IP limits: login {delta.get('rate_limited_login', 0)}, authorize {delta.get('rate_limited_authorize', 0)}")
    return checks


def main():
    base, client_id, redirect, victim, seconds = sys.argv[1:6]
    seconds = int(seconds)
    phase("A: one IP, one account", base, client_id, redirect, seconds, lambda n: (victim, "198.51.100.10"))
    phase("B: 50 IPs, one account", base, client_id, redirect, seconds,
          lambda n: (victim + "-b", f"203.0.113.{n % 50 + 1}"))
    phase("C: one IP, many accounts", base, client_id, redirect, seconds,
          lambda n: (f"sprayed-{n}", "198.51.100.20"))


if __name__ == "__main__":
    main()
