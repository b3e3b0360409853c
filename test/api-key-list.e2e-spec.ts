import { spawn } from 'node:child_process';
import { freePort } from './support/service-process.js';
import { createApiKey, createUser } from './support/factories.js';
import { Http } from './support/http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

interface KeyPage {
  items: { id: string; user_id: string; created_at: string }[];
  next_cursor: string | null;
}

/** `GET /api/admin/api-keys`: keyset pages of keys, as the other admin lists. */
describe('API key list', () => {
  let testApp: TestApp;
  let http: Http;
  let busyUser: string;
  let otherUser: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
    busyUser = (await createUser(http)).id;
    otherUser = (await createUser(http)).id;
    // 1,050 live keys for one user, straight in SQL: groups of seven share a created_at, so the
    // order depends on the id tie-break too. Three deleted keys and four of another user beside.
    await testApp.db.query(
      `INSERT INTO api_keys (user_id, name, prefix, last4, created_at)
       SELECT $1, 'bulk-' || i, 'sk-bulk', lpad(i::text, 4, '0'),
              timestamptz '2026-01-01 00:00:00+00' + (i / 7) * interval '1 millisecond'
       FROM generate_series(1, 1050) AS i`,
      [busyUser],
    );
    await testApp.db.query(
      `INSERT INTO api_keys (user_id, name, prefix, last4, created_at, deleted_at, revoked_at)
       SELECT $1, 'gone-' || i, 'sk-gone', 'gone', timestamptz '2026-01-01 00:00:00.05+00', now(), now()
       FROM generate_series(1, 3) AS i`,
      [busyUser],
    );
    await testApp.db.query(
      `INSERT INTO api_keys (user_id, name, prefix, last4, created_at)
       SELECT $1, 'other-' || i, 'sk-other', 'othr', timestamptz '2026-01-01 00:00:00.01+00'
       FROM generate_series(1, 4) AS i`,
      [otherUser],
    );
  });
  afterAll(() => testApp.close());

  /** Ids of live keys in the order the list promises, read from Postgres. */
  async function expectedIds(userId?: string): Promise<string[]> {
    const { rows } = await testApp.db.query(
      `SELECT id FROM api_keys WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR user_id = $1)
       ORDER BY created_at, id`,
      [userId ?? null],
    );
    return rows.map((row) => row.id);
  }

  /** Follows `next_cursor` from `start` (else the first page) to the last; every answer 200. */
  async function walk(
    query: string,
    start: string | null = null,
  ): Promise<{ ids: string[]; pages: KeyPage[] }> {
    const pages: KeyPage[] = [];
    let cursor: string | null = start;
    do {
      const suffix: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const response = await http.admin<KeyPage>('GET', `/api-keys?${query}${suffix}`);
      expect({
        status: response.status,
        text: response.status === 200 ? '' : response.text,
      }).toEqual({ status: 200, text: '' });
      pages.push(response.body);
      cursor = response.body.next_cursor;
      expect(pages.length).toBeLessThan(100);
    } while (cursor);
    return { ids: pages.flatMap((page) => page.items.map((item) => item.id)), pages };
  }

  it('visits each of 1,050 keys of a user exactly once, oldest first, then stops', async () => {
    const { ids, pages } = await walk(`user_id=${busyUser}&limit=100`);
    expect(pages.map((page) => page.items.length)).toEqual([...Array(10).fill(100), 50]);
    expect(new Set(ids).size).toBe(1050);
    expect(ids).toEqual(await expectedIds(busyUser));
    expect(pages[pages.length - 1].next_cursor).toBeNull();
    for (const page of pages) {
      expect(page.items.every((item) => item.user_id === busyUser)).toBe(true);
    }
  });

  it('lists every user’s keys without the filter, in pages of up to 500, and none deleted', async () => {
    const { ids, pages } = await walk('limit=500');
    const expected = await expectedIds();
    expect(expected.length).toBeGreaterThanOrEqual(1054);
    expect(ids).toEqual(expected);
    expect(pages.every((page) => page.items.length <= 500)).toBe(true);
    const { rows } = await testApp.db.query(
      `SELECT count(*)::int AS deleted FROM api_keys WHERE deleted_at IS NOT NULL AND id = ANY($1)`,
      [ids],
    );
    expect(rows[0].deleted).toBe(0);
  });

  it('answers 100 keys and a cursor when no limit is given', async () => {
    const response = await http.admin<KeyPage>('GET', `/api-keys?user_id=${busyUser}`);
    expect(response.status).toBe(200);
    expect(response.body.items).toHaveLength(100);
    expect(response.body.items.map((item) => item.id)).toEqual(
      (await expectedIds(busyUser)).slice(0, 100),
    );
    expect(response.body.next_cursor).toEqual(expect.any(String));
  });

  it('keeps its place while keys are added and deleted between pages', async () => {
    const user = (await createUser(http)).id;
    const first = [];
    for (let i = 0; i < 5; i++) first.push((await createApiKey(http, user, { name: `k${i}` })).id);

    const page1 = await http.admin<KeyPage>('GET', `/api-keys?user_id=${user}&limit=2`);
    expect(page1.body.items.map((item) => item.id)).toEqual(first.slice(0, 2));
    const added = (await createApiKey(http, user, { name: 'late' })).id;
    expect((await http.admin('DELETE', `/api-keys/${first[2]}`)).status).toBe(204);

    const rest = await walk(`user_id=${user}&limit=2`, page1.body.next_cursor);
    expect(rest.ids).toEqual([first[3], first[4], added]);
  });

  it('answers an empty last page for a user without keys', async () => {
    const user = (await createUser(http)).id;
    const response = await http.admin('GET', `/api-keys?user_id=${user}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [], next_cursor: null });
  });

  it('refuses a bad limit, cursor or user_id with 400 in the error shape', async () => {
    const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=-3', 'limit'],
      ['cursor=', 'cursor'],
      ['cursor=garbage', 'cursor'],
      [`cursor=${'a'.repeat(201)}`, 'cursor'],
      [`cursor=${cursorOf('2026-01-01 00:00:00+00|not-a-uuid')}`, 'cursor'],
      [`cursor=${cursorOf(`2026-01-01 00:00:00+00|${busyUser}|extra`)}`, 'cursor'],
      ['user_id=42', 'user_id'],
    ];
    for (const [query, field] of cases) {
      const response = await http.admin('GET', `/api-keys?${query}`);
      expect({ query, status: response.status, body: response.body }).toEqual({
        query,
        status: 400,
        body: {
          status: 400,
          message: expect.any(String),
          code: 'validation_failed',
          request_id: expect.any(String),
          errors: [expect.objectContaining({ field, message: expect.any(String) })],
        },
      });
    }
    // Well-formed, but not a time Postgres can read.
    const impossible = await http.admin(
      'GET',
      `/api-keys?cursor=${cursorOf(`9999-99-99 99:99:99+00|${busyUser}`)}`,
    );
    expect(impossible.status).toBe(400);
    expect(impossible.body).toMatchObject({ status: 400, request_id: expect.any(String) });
  });

  it('is described in the OpenAPI document of the built service: query and page schema', async () => {
    const document = await builtServiceDocument(testApp.databaseUrl);
    const list = document.paths['/api/admin/api-keys'].get;
    const parameters = Object.fromEntries(
      list.parameters.map((parameter: any) => [parameter.name, parameter]),
    );
    expect(Object.keys(parameters).sort()).toEqual(['cursor', 'limit', 'user_id']);
    expect(parameters.limit).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 500 },
    });
    expect(parameters.cursor).toMatchObject({ in: 'query', required: false });
    expect(parameters.user_id).toMatchObject({ in: 'query', required: false });

    const ok = list.responses['200'].content['application/json'].schema;
    expect(ok).toEqual({ $ref: '#/components/schemas/ApiKeyPageDto' });
    const page = document.components.schemas.ApiKeyPageDto;
    expect(page.required.sort()).toEqual(['items', 'next_cursor']);
    expect(page.properties.items).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/ApiKeyResponseDto' },
    });
    expect(page.properties.next_cursor).toMatchObject({ type: 'string', nullable: true });
    expect(document.components.schemas.ApiKeyResponseDto.properties).not.toHaveProperty('key');
  });
});

/**
 * The OpenAPI document as `npm start` serves it: the Swagger plugin that reads the DTOs runs in
 * `nest build` only, so this asks the built service (`npm test` builds it first).
 */
async function builtServiceDocument(databaseUrl: string): Promise<any> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  for (const name of ['NODE_OPTIONS', 'NODE_ENV']) delete env[name];
  const child = spawn(process.execPath, ['dist/main.js'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const started = Date.now();
    while (Date.now() - started < 60_000) {
      if (child.exitCode !== null) throw new Error(`service exited:\n${output}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/docs/openapi.json`);
        if (response.status === 200) return await response.json();
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no OpenAPI document after 60 s:\n${output}`);
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }
}
