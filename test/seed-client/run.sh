#!/usr/bin/env bash
# Starts the built service as `npm start` does (embedded Postgres, fresh DATA_DIR) and runs the
# original document's Python client against it. Needs python3 with requests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

export DATA_DIR PORT
DATA_DIR="$(mktemp -d)"
PORT="${PORT:-3917}"
env -u DATABASE_URL -u ADMIN_TOKEN LOG_LEVEL=warn node dist/main.js >"$DATA_DIR/service.log" 2>&1 &
service=$!
cleanup() {
  kill "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/api/health/ready" >/dev/null && break
  kill -0 "$service" 2>/dev/null || { cat "$DATA_DIR/service.log"; exit 1; }
  sleep 0.5
done
python3 test/seed-client/seed_client.py
