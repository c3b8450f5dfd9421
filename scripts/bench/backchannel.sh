#!/usr/bin/env bash
# Back-channel logout delivery: the release build on SQLite (or Redis with
# AUTH_STORE=redis://…), a receiver in scripts/bench/backchannel.py on a
# free loopback port, N sessions (default 100) ended one at a time, at
# once, and against a receiver that fails twice per token. Needs the test
# venv (requests). Starts and stops its own server.
#   cargo build --release && ./scripts/bench/backchannel.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${AUTH_TEST_PYTHON:-target/test-venv/bin/python}
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free) receiver=$(free) count=${1:-100}
dir=$(mktemp -d)
export AUTH_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export AUTH_STORE=${AUTH_STORE:-"sqlite://$dir/auth.db"} AUTH_ISSUER="http://127.0.0.1:$port" AUTH_LISTEN="127.0.0.1:$port"
export AUTH_LOG_LEVEL=warn AUTH_RATE_LIMIT_LOGIN=off AUTH_RATE_LIMIT_AUTHORIZE=off AUTH_BACKCHANNEL_LOGOUT_ALLOW=127.0.0.0/8
target/release/auth-service serve >"$dir/log" 2>&1 &
server=$!
trap 'kill $server; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
created=$(target/release/auth-service client create --name bench --redirect-uri https://rp.example/cb \
  --post-logout-redirect-uri https://rp.example/bye --scope openid \
  --backchannel-logout-uri "http://127.0.0.1:$receiver/bcl")
id=$(echo "$created" | python3 -c 'import sys, json; print(json.load(sys.stdin)["client_id"])')
secret=$(echo "$created" | python3 -c 'import sys, json; print(json.load(sys.stdin)["client_secret"])')
echo 'correct horse battery staple' | target/release/auth-service user create --username bench --password-stdin >/dev/null
"$python" scripts/bench/backchannel.py "http://127.0.0.1:$port" "$id" "$secret" bench \
  'correct horse battery staple' "$receiver" "$count" target/release/auth-service
