#!/usr/bin/env bash
# The cost of DPoP on client_credentials: the release build on SQLite,
# wrk with 16 connections for 5 s, first without and then with a fresh
# DPoP proof per request, and the server's CPU time from /proc for each,
# so the figure is requests per server CPU-second (independent of how
# busy wrk keeps the machine's other core). Needs wrk and the test venv
# (jwcrypto). Starts and stops its own server on a free loopback port.
#   cargo build --release && ./scripts/bench/token.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${AUTH_TEST_PYTHON:-target/test-venv/bin/python}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
export AUTH_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export AUTH_STORE="sqlite://$dir/auth.db" AUTH_ISSUER="http://127.0.0.1:$port" AUTH_LISTEN="127.0.0.1:$port"
export AUTH_LOG_LEVEL=warn AUTH_RATE_LIMIT_TOKEN=off AUTH_RATE_LIMIT_TOKEN_CLIENT=off
target/release/auth-service serve >"$dir/log" 2>&1 &
server=$!
trap 'kill $server; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
created=$(target/release/auth-service client create --name bench --grant-type client_credentials --scope read)
id=$(echo "$created" | python3 -c 'import sys, json; print(json.load(sys.stdin)["client_id"])')
secret=$(echo "$created" | python3 -c 'import sys, json; print(json.load(sys.stdin)["client_secret"])')
export BASIC=$(printf '%s:%s' "$id" "$secret" | base64 -w0) THREADS=2
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks=$(getconf CLK_TCK)
run() {
  local before after
  before=$(cpu)
  wrk -t2 -c16 -d5s -s scripts/bench/token.lua "http://127.0.0.1:$port" >"$dir/wrk" 2>&1
  after=$(cpu)
  local requests
  requests=$(awk '/requests in/ {print $1}' "$dir/wrk")
  grep -q "Non-2xx" "$dir/wrk" && { echo "$1: refusals:"; cat "$dir/wrk"; exit 1; }
  python3 -c "import sys; r, c = $requests, ($after - $before) / $ticks; print(f'$1: {r} requests, {c:.2f} server CPU-s, {r / c:.0f} req/CPU-s, {r / 5:.0f} req/s')"
}
run "Bearer (no proof)"
"$python" scripts/bench/gen_proofs.py "http://127.0.0.1:$port/token" 60000 "$dir/proofs"
PROOFS="$dir/proofs" run "DPoP (a proof per request)"
run "Bearer again"
