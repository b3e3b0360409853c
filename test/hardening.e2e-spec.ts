import {
  createApiKey,
  createTenant,
  createUser,
  databaseFingerprint,
  guardHeaders,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { AuthCache } from '../src/auth-cache/auth-cache.service.js';
import { Http } from './support/http.js';
import { rawRequest, type RawResponse } from './support/raw-http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

/** The contract's error body, with the request id of the answer's header. */
function expectErrorShape(response: RawResponse, status: number, code: string): void {
  expect({ status: response.status, body: response.json }).toEqual({
    status,
    body: { status, message: expect.any(String), code, request_id: expect.any(String) },
  });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect((response.json as { request_id: string }).request_id).toBe(
    response.headers['x-request-id'],
  );
}

/** Inputs that once slipped past validation: each must be a clear 4xx that changes nothing. */
describe('hostile and odd inputs', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '100000' });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterAll(() => testApp.close());

  it('answers model names no model can have with 404, without caching them', async () => {
    const models = (testApp.app.get(AuthCache) as any).stores.get('model') as Map<string, unknown>;
    const cachedBefore = models.size;
    for (const model of ['m'.repeat(5000), 'gpt-4o\u0000', 'bad\ud800']) {
      const response = await http.post('/api/guard/auth', { model }, guardHeaders(tenant));
      expect({ status: response.status, code: response.body?.code }).toEqual({
        status: 404,
        code: 'model_not_found',
      });
    }
    expect(models.size).toBe(cachedBefore);
  });

  it('refuses dates Postgres cannot read with 400', async () => {
    const user = await createUser(http);
    const cases: [string, string, unknown][] = [
      ['POST', '/api-keys', { user_id: user.id, name: 'k', expires_at: '2027' }],
      ['POST', '/api-keys', { user_id: user.id, name: 'k', expires_at: '2027-W01-1' }],
      ['POST', `/users/${user.id}/credits`, { amount: 1, kind: 'free', expires_at: '2030' }],
      ['GET', '/audit?from=2030', undefined],
      ['GET', `/audit?to=${encodeURIComponent('0000-01-01T00:00:00Z')}`, undefined],
      ['GET', '/audit?cursor=99999999999999999999', undefined],
      // RFC 3339 allows a leap second (60); no instant JavaScript or Postgres holds has one.
      ['GET', `/usage?from=${encodeURIComponent('2026-06-30T23:59:60Z')}`, undefined],
      ['GET', `/usage/events?to=${encodeURIComponent('2026-12-31T23:59:60+00:00')}`, undefined],
      ['GET', `/audit?from=${encodeURIComponent('2026-02-30T00:00:00Z')}`, undefined],
      ['POST', '/api-keys', { user_id: user.id, name: 'k', expires_at: '2027-02-29T00:00:00Z' }],
      [
        'POST',
        `/users/${user.id}/credits`,
        { amount: 1, kind: 'free', expires_at: '2030-04-31T00:00:00Z' },
      ],
      [
        'GET',
        `/users?cursor=${Buffer.from('9999-99-99 99:99:99+00|00000000-0000-0000-0000-000000000000').toString('base64url')}`,
        undefined,
      ],
      [
        'GET',
        `/users?cursor=${Buffer.from(`2026-01-01 00:00:00+00|${'-'.repeat(36)}`).toString('base64url')}`,
        undefined,
      ],
    ];
    const before = await databaseFingerprint(testApp.db);
    for (const [method, path, body] of cases) {
      const response = await http.admin(method, path, body);
      expect({ path, body, status: response.status, code: response.body?.code }).toEqual({
        path,
        body,
        status: 400,
        code: expect.any(String),
      });
    }
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
    // The last day of a leap February is a day.
    const leap = await http.admin(
      'GET',
      `/usage?from=${encodeURIComponent('2028-02-29T00:00:00Z')}&to=${encodeURIComponent('2028-03-01T00:00:00Z')}`,
    );
    expect(leap.status).toBe(200);
  });

  it('refuses model names in a path that Postgres cannot store with 400', async () => {
    for (const [method, path] of [
      ['GET', '/models/%00/prices'],
      ['GET', '/models/bad%00name/prices'],
      ['PUT', '/models/%00'],
    ]) {
      const response = await http.admin(
        method,
        path,
        method === 'PUT' ? { price_million_input: 1, price_million_output: 1 } : undefined,
      );
      expect({ path, status: response.status, code: response.body?.code }).toEqual({
        path,
        status: 400,
        code: 'validation_failed',
      });
    }
    const unknown = await http.admin('GET', '/models/no-such-model/prices');
    expect(unknown.status).toBe(404);
  });

  it('refuses deeply nested JSON with 400', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 2000; i++) deep = [deep];
    const before = await databaseFingerprint(testApp.db);
    const usage = await http.post(
      '/api/guard/log-usage',
      seedUsageBody({ messages: deep }),
      guardHeaders(tenant),
    );
    expect(usage.status).toBe(400);
    expect(usage.body.code).toBe('validation_failed');
    const key = await http.admin('POST', '/api-keys', {
      user_id: tenant.userId,
      name: 'k',
      metadata: { deep },
    });
    expect(key.status).toBe(400);
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  it('refuses fields named after what every object inherits', async () => {
    for (const field of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const raw = JSON.stringify(seedUsageBody()).replace('{', `{"${field}": {"x": 1},`);
      const usage = await http.request('POST', '/api/guard/log-usage', {
        raw,
        headers: guardHeaders(tenant),
      });
      expect({ field, status: usage.status, errors: usage.body.errors }).toEqual({
        field,
        status: 400,
        errors: [{ field, message: 'is not an allowed field' }],
      });
      const user = await http.request('POST', '/api/admin/users', {
        raw: `{"${field}": 1}`,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect({ field, status: user.status }).toEqual({ field, status: 400 });
    }
  });

  it('answers oversized headers with 431 in the error shape, even while a body follows', async () => {
    const before = await databaseFingerprint(testApp.db);
    for (const body of [
      undefined,
      Buffer.from(JSON.stringify(seedUsageBody())),
      Buffer.alloc(1e6, ' '),
    ]) {
      const response = await rawRequest(testApp.baseUrl, {
        method: 'POST',
        target: '/api/guard/log-usage',
        headers: [
          ['SecretKey', tenant.secretKey],
          ['Authorization', `sk-${'a'.repeat(20 * 1024)}`],
          ['Content-Type', 'application/json'],
        ],
        body,
      });
      expectErrorShape(response, 431, 'headers_too_large');
    }
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  it('answers requests the HTTP parser refuses with 400 in the error shape', async () => {
    const before = await databaseFingerprint(testApp.db);
    const refused: [string, string, [string, string][]][] = [
      ['POST', '/api/guard/auth', [['Authorization', 'sk-\u0001']]],
      ['GET', '/api/admin/users', [['X Bad Name', 'v']]],
      [
        'GET',
        '/api/admin/users',
        [
          ['Transfer-Encoding', 'chunked'],
          ['Content-Length', '1'],
        ],
      ],
      ['GET', '/api/admin/users and more', []],
      ['get', '/api/admin/users', []],
    ];
    for (const [method, target, headers] of refused) {
      const response = await rawRequest(testApp.baseUrl, {
        method,
        target,
        headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`], ...headers],
        body: Buffer.from(JSON.stringify({ model: tenant.model })),
      });
      expectErrorShape(response, 400, 'bad_request');
    }
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  it('keeps constructor and __proto__ keys inside free-form JSON as sent', async () => {
    const messages =
      '[{"role":"user","content":"hi","constructor":{"prototype":{"x":1}},"__proto__":{"y":2}}]';
    const usage = await http.request('POST', '/api/guard/log-usage', {
      raw: JSON.stringify(seedUsageBody({ messages: null })).replace(
        '"messages":null',
        `"messages":${messages}`,
      ),
      headers: guardHeaders(tenant),
    });
    expect(usage.status).toBe(201);
    const stored = await testApp.db.query(`SELECT messages FROM usage_events WHERE id = $1`, [
      usage.body.id,
    ]);
    expect(stored.rows[0].messages).toEqual(JSON.parse(messages));
    expect(Object.keys(stored.rows[0].messages[0]).sort()).toEqual([
      '__proto__',
      'constructor',
      'content',
      'role',
    ]);

    const key = await http.request('POST', '/api/admin/api-keys', {
      raw: `{"user_id":"${tenant.userId}","name":"k","metadata":{"constructor":{"a":1},"team":"x"}}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(key.status).toBe(201);
    expect(key.body.metadata).toEqual({ constructor: { a: 1 }, team: 'x' });
    const row = await testApp.db.query(`SELECT metadata FROM api_keys WHERE id = $1`, [
      key.body.id,
    ]);
    expect(row.rows[0].metadata).toEqual({ constructor: { a: 1 }, team: 'x' });
  });

  it('answers malformed URLs with the error body and a request id', async () => {
    const response = await http.admin('PUT', '/models/%ZZ', {
      price_million_input: 1,
      price_million_output: 1,
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, code: 'bad_request' });
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'));
  });

  it('checks the headers first whatever the media type', async () => {
    const form = await http.request('POST', '/api/guard/auth', {
      raw: 'model=cogvlm-chat-17b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect({ status: form.status, code: form.body.code }).toEqual({
      status: 401,
      code: 'secret_key_missing',
    });
    const usage = await http.request('POST', '/api/guard/log-usage', {
      raw: 'model=cogvlm-chat-17b',
      headers: { 'content-type': 'text/plain', ...guardHeaders(tenant) },
    });
    expect({ status: usage.status, code: usage.body.code }).toEqual({
      status: 400,
      code: 'validation_failed',
    });
  });

  it('creates a model once under concurrent first PUTs', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        http.admin('PUT', '/models/raced-model', {
          price_million_input: 1,
          price_million_output: 1,
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    const { rows } = await testApp.db.query(
      `SELECT action, count(*)::int AS n FROM audit_log WHERE target_id = 'raced-model' GROUP BY action ORDER BY action`,
    );
    expect(rows).toEqual([
      { action: 'model.create', n: 1 },
      { action: 'model.update', n: 9 },
    ]);
  });

  it('keeps emails unique whatever their case', async () => {
    expect((await http.admin('POST', '/users', { email: 'Case@Example.com' })).status).toBe(201);
    const duplicate = await http.admin('POST', '/users', { email: 'case@example.COM' });
    expect({ status: duplicate.status, code: duplicate.body.code }).toEqual({
      status: 409,
      code: 'conflict',
    });
  });

  it('answers the organization id as the caller sent it', async () => {
    const organization = await http.admin('POST', '/organizations', {
      name: 'Upper',
      owner_user_id: tenant.userId,
    });
    const sent = organization.body.public_id.toUpperCase();
    const response = await http.post(
      '/api/guard/auth',
      { model: tenant.model },
      guardHeaders(tenant, { 'Swarms-Organization': sent }),
    );
    expect(response.status).toBe(200);
    expect(response.body.organization_id).toBe(sent);
  });

  it('accepts huge but finite client costs, keeping every digit', async () => {
    const key = await createApiKey(http, tenant.userId);
    const response = await http.post('/api/guard/log-usage', seedUsageBody({ total_cost: 1e21 }), {
      SecretKey: tenant.secretKey,
      Authorization: key.key,
    });
    expect(response.status).toBe(201);
    expect(response.text).toContain('"client_total":1000000000000000000000,');
  });
});
