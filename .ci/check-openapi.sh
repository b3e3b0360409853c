#!/usr/bin/env bash
# The OpenAPI document, checked without a database (the build must exist: npm run build):
# written from the built service (assembled in preview mode, as /docs/openapi.json serves it),
# linted with Redocly's recommended rules (any error fails), turned into TypeScript types by
# openapi-typescript, and the original document's two bodies in test/openapi-client/ type-checked
# against those types. Output in dist/openapi-check/ (ignored by git, ESLint and Prettier).
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist/openapi-check
if [ ! -f dist/openapi/openapi.cli.js ]; then
  echo "dist/openapi/openapi.cli.js is missing: run npm run build first" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"

node dist/openapi/openapi.cli.js "$out/openapi.json"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  npx --no-install redocly lint --config redocly.yaml "$out/openapi.json"
npx --no-install openapi-typescript "$out/openapi.json" --output "$out/schema.d.ts"
npx --no-install tsc -p test/openapi-client/tsconfig.json
echo "OpenAPI document: lint passed; test/openapi-client compiles against its generated types"
