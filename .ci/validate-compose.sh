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
