#!/usr/bin/env bash
# Schema drift: do the entities (src/**/*.entity.ts) describe the schema the migrations build?
#
# Creates a scratch database on a Postgres server, applies every migration, then fails, printing
# what is wrong, when
#   - a table the migrations made has no entity, or
#   - TypeORM would generate a migration (`typeorm migration:generate --check`): the SQL it
#     proposes is printed.
# The scratch database is dropped afterwards, pass or fail.
#
#   .ci/check-schema-drift.sh [server-url]
#
# server-url names any database on the server that the user may connect to and create databases
# from (default: $SCHEMA_DRIFT_SERVER_URL, else postgres://postgres@127.0.0.1:5432/postgres).
# The scratch database is <prefix>_<pid>, prefix $SCHEMA_DRIFT_DB_PREFIX (default
# guard_drift_check). Builds first unless SCHEMA_DRIFT_SKIP_BUILD=1 (CI sets it after its build).
set -euo pipefail
cd "$(dirname "$0")/.."

server_url="${1:-${SCHEMA_DRIFT_SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
prefix="${SCHEMA_DRIFT_DB_PREFIX:-guard_drift_check}"
if [[ ! "$prefix" =~ ^[a-z_][a-z0-9_]{0,40}$ ]]; then
  echo "SCHEMA_DRIFT_DB_PREFIX must be a lowercase identifier (got \"$prefix\")" >&2
  exit 2
fi
database="${prefix}_$$"
database_url=$(node -e '
  const url = new URL(process.argv[1]);
  url.pathname = "/" + process.argv[2];
  console.log(url.href);' "$server_url" "$database")

psql_server() { psql "$server_url" -v ON_ERROR_STOP=1 -X -q "$@"; }

if [[ "${SCHEMA_DRIFT_SKIP_BUILD:-}" != 1 ]]; then
  npm run --silent build
fi

psql_server -c "CREATE DATABASE $database"
trap 'psql_server -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true' EXIT

export DATABASE_URL="$database_url" NO_COLOR=1 FORCE_COLOR=0
node dist/database/migrate.cli.js

# Tables of the migrations (partitions aside) that no entity describes.
tables_without_entity=$(node --input-type=module -e '
  import pg from "pg";
  const { default: dataSource } = await import(process.cwd() + "/dist/database/data-source.js");
  await dataSource.initialize();
  const described = new Set(dataSource.entityMetadatas.map((metadata) => metadata.tableName));
  await dataSource.destroy();
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const { rows } = await client.query(
    `SELECT relname FROM pg_class
     WHERE relnamespace = current_schema()::regnamespace AND relkind = ANY($1)
       AND NOT relispartition AND relname <> $2
     ORDER BY 1`,
    [["r", "p"], dataSource.options.migrationsTableName ?? "migrations"],
  );
  await client.end();
  const missing = rows.map((row) => row.relname).filter((name) => !described.has(name));
  console.log(missing.join(" "));')
if [[ -n "$tables_without_entity" ]]; then
  echo "Schema drift: tables without an entity: $tables_without_entity" >&2
  exit 1
fi

status=0
output=$(node_modules/.bin/typeorm migration:generate -d dist/database/data-source.js --check \
  src/database/migrations/SchemaDrift 2>&1) || status=$?
if [[ $status -eq 0 ]]; then
  echo "No schema drift: the entities describe the migrated schema."
  exit 0
fi

# The up() statements of the proposed migration.
unexpected=$(printf '%s\n' "$output" |
  sed -n '/public async up(/,/public async down(/p' |
  sed -n 's/^ *await queryRunner\.query(`\(.*\)`.*);$/\1/p' || true)

printf '%s\n' "$output" >&2
if [[ -n "$unexpected" ]]; then
  printf '\nSchema drift: the entities do not describe the migrated schema. TypeORM proposes:\n%s\n' \
    "$unexpected" >&2
  echo "Make the entities say what the migrations built (or add the migration that is missing)." >&2
fi
exit 1
