import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Set by global-setup: a Postgres server, and a migrated template database on it. */
export function testServer(): { serverUrl: string; template: string } {
  const serverUrl = process.env.GUARD_TEST_SERVER_URL;
  const template = process.env.GUARD_TEST_TEMPLATE;
  if (!serverUrl || !template)
    throw new Error('Run the tests with `npm test` (global setup missing)');
  return { serverUrl, template };
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdminClient<T>(
  serverUrl: string,
  run: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { serverUrl, template } = testServer();
  const name = `guard_t_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) =>
    client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`),
  );
  return {
    url: databaseUrl(serverUrl, name),
    drop: () =>
      withAdminClient(serverUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      ).then(() => undefined),
  };
}
