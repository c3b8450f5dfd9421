# Shell helpers for the Redis load scripts (scripts/cluster-load,
# scripts/cluster-scaling). Sourced, not run. Every process started with
# redis_node is recorded in PIDS and REDIS_PIDS for the caller to stop.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A port for a cluster node: it also listens on port + 10000 (the cluster
# bus), which must be free and valid.
free_node_port() { python3 -c '
import socket
while True:
    s, b = socket.socket(), socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        if port < 55000:
            b.bind(("127.0.0.1", port + 10000))
            print(port)
            break
    except OSError:
        pass
    s.close(); b.close()
'; }

# redis_node DIR PORT [redis-server args…]: a loopback Redis with AOF and
# noeviction, as docs/deployment.md asks; waits until it answers.
redis_node() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
    --maxmemory 256mb --maxmemory-policy noeviction --dir "$dir/$port" "$@" >/dev/null &
  PIDS+=($!)
  REDIS_PIDS+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server on port $port did not start" >&2
  return 1
}

# cpu_ticks PID…: user + system CPU ticks of the processes, from /proc.
cpu_ticks() {
  local total=0 pid f
  for pid in "$@"; do
    read -r -a f < "/proc/$pid/stat"
    total=$((total + f[13] + f[14]))
  done
  echo "$total"
}

# wait_cluster_ok PORT: until the node says cluster_state:ok (at most 10 s).
wait_cluster_ok() {
  for _ in $(seq 100); do
    redis-cli -p "$1" cluster info | grep -q cluster_state:ok && return 0
    sleep 0.1
  done
  echo "the cluster at port $1 is not ok" >&2
  return 1
}
