#!/usr/bin/env bash
# Validates docker-compose.yml with Debian's docker-compose 1.29; needs no Docker engine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  # apt chatter (including debconf notices on stderr) is shown only if the install fails.
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
fi

# Without ADMIN_TOKEN the file must refuse to start the guard (no default admin token).
if ADMIN_TOKEN= docker-compose -f docker-compose.yml config -q 2>/dev/null; then
  echo "docker-compose.yml starts without ADMIN_TOKEN" >&2
  exit 1
fi
ADMIN_TOKEN=compose-validation-token-0123456789abcdef docker-compose -f docker-compose.yml config -q

# What the file must run, read from docker-compose's own rendering of it (docker-compose is
# Python with PyYAML, so both are here): Redis, two guard replicas on it behind the load
# balancer, each replica's healthcheck on readiness, and the balancer checking readiness too.
ADMIN_TOKEN=compose-validation-token-0123456789abcdef docker-compose -f docker-compose.yml config |
  python3 -c '
import sys, yaml

services = yaml.safe_load(sys.stdin)["services"]
problems = []

def need(condition, message):
    if not condition:
        problems.append(message)

replicas = sorted(name for name in services if name.startswith("guard-"))
need(len(replicas) >= 2, f"at least two guard replicas expected, found {replicas}")
need("redis" in services and services["redis"].get("image", "").startswith("redis:"),
     "a redis service on the official image is missing")
need("redis" in services and "redis-cli" in " ".join(services["redis"].get("healthcheck", {}).get("test", [])),
     "redis has no redis-cli healthcheck")
for name in replicas:
    guard = services[name]
    env = guard.get("environment", {})
    need(env.get("REDIS_URL") == "redis://redis:6379", f"{name}: REDIS_URL is not the redis service")
    need(env.get("DATABASE_URL", "").startswith("postgres://"), f"{name}: no DATABASE_URL")
    need("/api/health/ready" in " ".join(guard.get("healthcheck", {}).get("test", [])),
         f"{name}: healthcheck is not on /api/health/ready")
    need(not guard.get("ports"), f"{name}: publishes a port (clients go through the load balancer)")
    need(guard.get("depends_on", {}).get("redis", {}).get("condition") == "service_healthy",
         f"{name}: does not wait for a healthy redis")
lb = services.get("lb", {})
need(lb.get("image", "").startswith("haproxy:"), "the lb service does not run the official HAProxy image")
need(any(str(p.get("published")) == "3000" for p in lb.get("ports", []) if isinstance(p, dict)),
     "the lb service does not publish port 3000")
need(any(v.endswith("/usr/local/etc/haproxy/haproxy.cfg:ro") and "deploy/haproxy.cfg" in v
         for v in lb.get("volumes", [])), "the lb does not mount deploy/haproxy.cfg")
need(all(lb.get("depends_on", {}).get(name, {}).get("condition") == "service_healthy" for name in replicas),
     "the lb does not wait for every replica to be ready")
need("healthcheck" in lb, "the lb has no healthcheck")

config = open("deploy/haproxy.cfg").read()
for name in replicas:
    need(f"server {name} {name}:3000" in config, f"deploy/haproxy.cfg: no server line for {name}")
need("http-check send meth GET uri /api/health/ready" in config,
     "deploy/haproxy.cfg: servers are not checked on /api/health/ready")

for problem in problems:
    print(f"docker-compose.yml: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
'
