import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase } from './support/database.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';

/** `node script` with `env` to its end: exit code and everything it wrote. */
function runToEnd(script: string, env: Record<string, string>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, [script], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
}

/** Starts the built service in production; resolves once it is ready or has exited. */
async function startProduction(env: Record<string, string>) {
  const service = spawnService(await freePort(), {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    ...env,
  });
  started.push(service);
  const ready = await service.ready(30_000).then(
    () => true,
    () => false,
  );
  return { service, ready };
}

const started: ServiceProcess[] = [];

describe('safe by default in production', () => {
  let database: { url: string; drop: () => Promise<void> };
  let dataDir: string;
  const goodToken = randomBytes(24).toString('hex');

  async function query<T extends pg.QueryResultRow>(sql: string) {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'guard-prod-'));
  });

  afterEach(async () => {
    for (const service of started.splice(0)) await service.stop();
  });

  afterAll(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['a short token', 'short-but-not-32-chars-long-xx', 'at least 32 characters'],
    ['the old compose default', 'change-me-to-a-long-random-token', 'placeholder'],
    ['an example phrase', 'replace-me-with-your-admin-token-please', 'placeholder'],
    ['one character repeated', 'a'.repeat(40), 'placeholder'],
  ])('refuses to start with %s as ADMIN_TOKEN', async (_case, token, message) => {
    const { service, ready } = await startProduction({
      DATABASE_URL: database.url,
      ADMIN_TOKEN: token,
    });
    expect(ready).toBe(false);
    await service.stop();
    expect(service.output()).toContain(message);
    expect(service.output()).not.toContain(token);
  });

  it('refuses to start on a Postgres with synchronous_commit off', async () => {
    const name = new URL(database.url).pathname.slice(1);
    await query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
    try {
      const { service, ready } = await startProduction({
        DATABASE_URL: database.url,
        ADMIN_TOKEN: goodToken,
      });
      expect(ready).toBe(false);
      await service.stop();
      expect(service.output()).toContain('synchronous_commit=off');
    } finally {
      await query(`ALTER DATABASE ${name} RESET synchronous_commit`);
    }
    // The same database, durable again: the service starts.
    const { ready } = await startProduction({ DATABASE_URL: database.url, ADMIN_TOKEN: goodToken });
    expect(ready).toBe(true);
  });

  it("answers not ready while the current month's usage partition is missing", async () => {
    const { service, ready } = await startProduction({
      DATABASE_URL: database.url,
      ADMIN_TOKEN: goodToken,
    });
    expect(ready).toBe(true);
    const [{ partition }] = await query<{ partition: string }>(
      `SELECT format('usage_events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM')) AS partition
       FROM (SELECT now() AT TIME ZONE 'UTC' AS m) t`,
    );
    const [{ bound }] = await query<{ bound: string }>(
      `SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname = '${partition}'`,
    );
    await query(`ALTER TABLE usage_events DETACH PARTITION ${partition}`);
    try {
      const response = await fetch(`${service.baseUrl}/api/health/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        status: 503,
        code: 'service_unavailable',
        message: "The current month's usage partition is missing",
      });
    } finally {
      await query(`ALTER TABLE usage_events ATTACH PARTITION ${partition} ${bound}`);
    }
    expect((await fetch(`${service.baseUrl}/api/health/ready`)).status).toBe(200);
  });

  it('seed:demo never prints or stores an admin token it did not create', async () => {
    // A DATA_DIR that does not exist yet, as in a fresh checkout run against DATABASE_URL.
    const seedDir = join(dataDir, 'not-yet', 'data');
    const { code, output } = await runToEnd('dist/demo/seed-demo.cli.js', {
      DATABASE_URL: database.url,
      ADMIN_TOKEN: goodToken,
      DATA_DIR: seedDir,
    });
    expect({ code, output }).toEqual({
      code: 0,
      output: expect.stringContaining('Demo data created'),
    });
    expect(output).not.toContain(goodToken);
    expect(output).toContain('(the ADMIN_TOKEN of the environment)');
    const stored = await readFile(join(seedDir, 'demo-credentials.json'), 'utf8');
    expect(stored).not.toContain(goodToken);
    expect(JSON.parse(stored)).toMatchObject({ admin_token: null, api_key: expect.any(String) });
  });
});
