// Jest loads global setup outside its module system, so this file uses the compiled service
// (`npm test` builds it first) and plain pg.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../dist/config/app-config.js';
import { startEmbeddedPostgres } from '../../dist/database/embedded-postgres.js';
import { runMigrations } from '../../dist/database/migrations.js';

export function databaseUrl(serverUrl, database) {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient(serverUrl, run) {
  const client = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * One Postgres for the whole run: TEST_DATABASE_URL's server when set, else an embedded one.
 * A migrated template database is made once; each test file clones it.
 */
export default async function globalSetup() {
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    globalThis.guardTestEmbedded = await startEmbeddedPostgres(
      join(tmpdir(), 'swarms-guard-test-postgres'),
    );
    serverUrl = globalThis.guardTestEmbedded.url;
  }
  const template = `guard_template_${process.pid}`;
  await withAdminClient(serverUrl, async (client) => {
    // Leftovers of interrupted runs: databases of ours that nobody is connected to.
    const stale = await client.query(
      `SELECT datname FROM pg_database d
       WHERE (datname LIKE 'guard\\_t\\_%' OR datname LIKE 'guard\\_template\\_%')
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
    );
    for (const { datname } of stale.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
    await client.query(`CREATE DATABASE ${template}`);
  });
  await runMigrations(loadConfig({}).database, databaseUrl(serverUrl, template));
  process.env.GUARD_TEST_SERVER_URL = serverUrl;
  process.env.GUARD_TEST_TEMPLATE = template;
}
