"""Checks of the operations kit that schema validation cannot make.

  check_ops.py k8s DIR
      The Kubernetes manifests keep the runbook's contract (docs/operations.md):
      names, labels, probes, rollout, security context, grace period.
  check_ops.py dashboards DIR SCRAPE RULES_OUT
      Every Grafana query uses only metrics in SCRAPE (a /metrics scrape of
      a running server) and is written to RULES_OUT as a recording rule, so
      `promtool check rules RULES_OUT` parses every query.

Exits 1 with one line per problem. Needs PyYAML (installed with
kubernetes-validate by scripts/test).
"""

import glob
import ipaddress
import json
import os
import re
import sys

import yaml


def load_all(directory):
    docs = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs.append(doc)
    return docs


def seconds(text):
    match = re.fullmatch(r"(\d+)(ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read the duration {text!r}")
    n, unit = int(match[1]), match[2]
    return {"ms": n / 1000, "s": n, "m": n * 60}[unit]


def load_kustomization(directory):
    """The documents `kubectl apply -k directory` would apply, for the
    layouts deploy/k8s uses: plain files, plus a base (`..`) whose
    documents the overlay's `$patch: delete` patches remove. Other patches
    add fields and are not applied here."""
    docs = load_all(directory)
    path = os.path.join(directory, "kustomization.yaml")
    if not os.path.exists(path):
        return docs
    with open(path) as f:
        kustomization = yaml.safe_load(f)
    for resource in kustomization.get("resources", []):
        if os.path.isdir(os.path.join(directory, resource)):
            docs += load_kustomization(os.path.join(directory, resource))
    for entry in kustomization.get("patches", []):
        patch = yaml.safe_load(entry.get("patch", "")) or {}
        if patch.get("$patch") == "delete":
            docs = [d for d in docs if not (d.get("kind") == patch["kind"]
                                            and d.get("metadata", {}).get("name") == patch["metadata"]["name"])]
    return docs


def check_k8s(directory):
    problems = []
    docs = load_kustomization(directory)
    by_kind = {}
    for doc in docs:
        if "metadata" in doc:  # not a Kustomization
            by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    def need(condition, message):
        if not condition:
            problems.append(message)

    deployment = by_kind.get("Deployment", {}).get("auth-service")
    need(deployment is not None, "no Deployment auth-service")
    config = by_kind.get("ConfigMap", {}).get("auth-service-config")
    need(config is not None, "no ConfigMap auth-service-config")
    if deployment:
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        need(spec["selector"]["matchLabels"].get("app") == "auth-service", "selector app=auth-service")
        need(spec["template"]["metadata"]["labels"].get("app") == "auth-service", "pod label app=auth-service")
        need(spec["strategy"]["type"] == "RollingUpdate", "RollingUpdate")
        need(spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "maxUnavailable: 0")
        container = next(c for c in pod["containers"] if c["name"] == "auth-service")
        need({"configMapRef": {"name": "auth-service-config"}} in container.get("envFrom", []),
             "envFrom ConfigMap auth-service-config")
        master = [e for e in container.get("env", []) if e["name"] == "AUTH_MASTER_KEY"]
        need(master and "secretKeyRef" in master[0].get("valueFrom", {}), "AUTH_MASTER_KEY from a Secret")
        need(container["livenessProbe"]["httpGet"]["path"] == "/health/live", "liveness on /health/live")
        need(container["readinessProbe"]["httpGet"]["path"] == "/health/ready", "readiness on /health/ready")
        need(any(p["containerPort"] == 3001 for p in container["ports"]), "container port 3001")
        security = container.get("securityContext", {})
        need(security.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
        need(security.get("allowPrivilegeEscalation") is False, "no privilege escalation")
        need(security.get("capabilities", {}).get("drop") == ["ALL"], "all capabilities dropped")
        need(pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot")
        resources = container.get("resources", {})
        need("requests" in resources and "limits" in resources, "resource requests and limits")
        if config:
            data = config["data"]
            drain = seconds(data.get("AUTH_SHUTDOWN_DRAIN", "5s"))
            grace = seconds(data.get("AUTH_SHUTDOWN_GRACE", "20s"))
            need(pod["terminationGracePeriodSeconds"] > drain + grace,
                 f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} must exceed drain + grace ({drain + grace})")
    service = by_kind.get("Service", {}).get("auth-service")
    need(service is not None and any(p["port"] == 3001 for p in service["spec"]["ports"]), "Service auth-service on 3001")
    need("auth-service" in by_kind.get("PodDisruptionBudget", {}), "a PodDisruptionBudget")
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("auth-service")
    need(hpa is not None and hpa["spec"]["minReplicas"] >= 5, "an HPA with at least 5 replicas")
    need("auth-service" in by_kind.get("NetworkPolicy", {}), "a NetworkPolicy")
    redis_maps = [m["data"] for m in by_kind.get("ConfigMap", {}).values() if "redis.conf" in m.get("data", {})]
    need(len(redis_maps) == 1, "one ConfigMap with the Redis example's redis.conf")
    redis_config = redis_maps[0]["redis.conf"] if redis_maps else ""
    need("appendonly yes" in redis_config, "the Redis example has AOF on")
    if "start-sentinel.sh" in (redis_maps[0] if redis_maps else {}):
        # deploy/k8s/sentinel: three pods, a majority quorum.
        sentinel = redis_maps[0]["start-sentinel.sh"]
        need(re.search(r"^sentinel monitor \S+ \S+ \S+ 2$", sentinel, re.M) is not None,
             "the Sentinels' quorum is 2")
        sets = [w for w in by_kind.get("StatefulSet", {}).values() if w["metadata"]["labels"].get("app") == "redis"]
        need(len(sets) == 1 and sets[0]["spec"]["replicas"] == 3, "three Redis pods under Sentinel")
    # docs/security.md review findings: Redis with an ACL user and a memory bound,
    # the store URL (with its password) in a Secret, proxies narrowed.
    # The Sentinel variant writes the line from its start script.
    redis_start = redis_maps[0].get("start-redis.sh", "") if redis_maps else ""
    need(re.search(r'^\s*(echo ")?aclfile \S+', redis_config + "\n" + redis_start, re.M) is not None,
         "the Redis example signs clients in with an ACL file")
    need(re.search(r"^maxmemory \d+", redis_config, re.M) is not None, "the Redis example sets maxmemory")
    need("maxmemory-policy noeviction" in redis_config, "the Redis example never evicts")
    need("bind 0.0.0.0" not in redis_config, "Redis does not bind 0.0.0.0 without protection")
    if config:
        need("AUTH_STORE" not in config["data"], "AUTH_STORE (with the Redis password) is not in the ConfigMap")
        for block in config["data"].get("AUTH_TRUSTED_PROXIES", "").split(","):
            block = block.strip()
            if block:
                net = ipaddress.ip_network(block, strict=False)
                need(net.prefixlen >= (16 if net.version == 4 else 48),
                     f"AUTH_TRUSTED_PROXIES {block} is broader than the ingress")
    if deployment:
        container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "auth-service")
        store = [e for e in container.get("env", []) if e["name"] == "AUTH_STORE"]
        need(store and "secretKeyRef" in store[0].get("valueFrom", {}), "AUTH_STORE from a Secret")
    for kind in ("StatefulSet", "Deployment"):
        for name, workload in by_kind.get(kind, {}).items():
            for c in workload["spec"]["template"]["spec"]["containers"]:
                if name != "auth-service":
                    need("@sha256:" in c["image"], f"{kind} {name}: image {c['image']} is pinned by digest")
    return problems


# Words in PromQL that look like metric names but are not.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}


def check_dashboards(directory, scrape, rules_out):
    problems = []
    exported = set()
    with open(scrape) as f:
        for line in f:
            if line and not line.startswith("#"):
                name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
                if name:
                    exported.add(name[0])
    exported.add("up")  # Prometheus's own, per scrape target.
    rules = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            dashboard = json.load(f)
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$job", "auth-service")
                for name in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", expr):
                    if name not in KEYWORDS and name not in exported:
                        problems.append(f"{os.path.basename(path)}: panel {panel['title']!r} uses {name}, which the service does not export")
                rules.append({"record": f"dashboard:query_{len(rules)}", "expr": expr})
    with open(rules_out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
    print(f"{len(rules)} dashboard queries extracted")
    return problems


def main():
    if sys.argv[1] == "k8s":
        problems = check_k8s(sys.argv[2])
    else:
        problems = check_dashboards(sys.argv[2], sys.argv[3], sys.argv[4])
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print("ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
