import { randomUUID } from 'node:crypto';
import { createApiKey, createOrganization, createUser, putModel } from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('Admin API', () => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
  });
  afterAll(() => testApp.close());

  // Every row has three entries: Jest passes a `done` callback to shorter ones.
  const routes: [string, string, unknown][] = [
    ['POST', '/users', {}],
    ['GET', `/users/${randomUUID()}`, undefined],
    ['POST', `/users/${randomUUID()}/credits`, { amount: 1 }],
    ['POST', '/organizations', { name: 'x', owner_user_id: randomUUID() }],
    ['GET', `/organizations/${randomUUID()}`, undefined],
    ['POST', `/organizations/${randomUUID()}/members`, { user_id: randomUUID(), role: 'reader' }],
    ['DELETE', `/organizations/${randomUUID()}/members/${randomUUID()}`, undefined],
    ['POST', '/api-keys', { user_id: randomUUID(), name: 'k' }],
    ['GET', '/api-keys', undefined],
    ['DELETE', `/api-keys/${randomUUID()}`, undefined],
    ['POST', '/service-clients', { name: 'c' }],
    ['GET', '/service-clients', undefined],
    ['DELETE', `/service-clients/${randomUUID()}`, undefined],
    ['PUT', '/models/m', { price_million_input: 1, price_million_output: 1 }],
    ['GET', '/models', undefined],
  ];

  it.each(routes)(
    '%s %s answers 401 without the admin token, or with a wrong one',
    async (method, path, body) => {
      const missing = await http.request(method, `/api/admin${path}`, { body });
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ status: 401, code: 'admin_unauthorized' });
      const wrong = await http.request(method, `/api/admin${path}`, {
        body,
        headers: { authorization: 'Bearer not-the-token-at-all' },
      });
      expect(wrong.status).toBe(401);
    },
  );

  it('answers 503 admin_disabled when ADMIN_TOKEN is unset', async () => {
    const disabled = await startTestApp({ ADMIN_TOKEN: '' });
    try {
      const response = await new Http(disabled.baseUrl).admin('GET', '/models');
      expect(response.status).toBe(503);
      expect(response.body.code).toBe('admin_disabled');
    } finally {
      await disabled.close();
    }
  });

  it.each([
    ['POST', '/users', { email: 'a@example.com', nickname: 'x' }],
    ['POST', '/service-clients', { name: 'c', secret: 'mine' }],
    ['PUT', '/models/m', { price_million_input: 1, price_million_output: 1, currency: 'EUR' }],
  ])('%s %s answers 400 on an unknown field', async (method, path, body) => {
    const { status, body: error } = await http.admin(method, path, body);
    expect(status).toBe(400);
    expect(error.code).toBe('validation_failed');
    expect(error.errors).toHaveLength(1);
  });

  it('answers 404 on unknown ids, UUID or not', async () => {
    const user = await createUser(http);
    const unknown = randomUUID();
    const cases: [string, string, unknown?][] = [
      ['GET', `/users/${unknown}`],
      ['GET', '/users/not-a-uuid'],
      ['POST', `/users/${unknown}/credits`, { amount: 1 }],
      ['GET', `/organizations/${unknown}`],
      ['POST', '/organizations', { name: 'x', owner_user_id: unknown }],
      ['POST', `/organizations/${unknown}/members`, { user_id: user.id, role: 'reader' }],
      ['DELETE', `/organizations/${unknown}/members/${user.id}`],
      ['POST', '/api-keys', { user_id: unknown, name: 'k' }],
      ['DELETE', `/api-keys/${unknown}`],
      ['DELETE', '/api-keys/42'],
      ['DELETE', `/service-clients/${unknown}`],
    ];
    for (const [method, path, body] of cases) {
      const response = await http.admin(method, path, body);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(response.body.code).toBe('not_found');
    }
  });

  it('creates users and adds paid and free credit', async () => {
    const created = await http.admin('POST', '/users', {
      email: 'ada@example.com',
      credit_plan: 'invoice',
      credit_limit: 100,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'ada@example.com',
      credit_plan: 'invoice',
      credit_limit: 100,
    });
    const duplicate = await http.admin('POST', '/users', { email: 'ada@example.com' });
    expect(duplicate.status).toBe(409);

    const user = await createUser(http);
    const paid = await http.admin('POST', `/users/${user.id}/credits`, { amount: 12.34 });
    expect(paid.status).toBe(201);
    expect(paid.body.credit).toEqual({
      paid: 12.34,
      free: 0,
      free_expires_at: null,
      reserved: 0,
      remaining: 12.34,
    });
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const free = await http.admin('POST', `/users/${user.id}/credits`, {
      amount: 1,
      kind: 'free',
      expires_at: expiresAt,
    });
    expect(free.body.credit).toEqual({
      paid: 12.34,
      free: 1,
      free_expires_at: expiresAt,
      reserved: 0,
      remaining: 13.34,
    });

    for (const bad of [
      { amount: 0 },
      { amount: -5 },
      { amount: '5' },
      { amount: 1, kind: 'gift' },
      { amount: 1, expires_at: expiresAt },
    ]) {
      const refused = await http.admin('POST', `/users/${user.id}/credits`, bad);
      expect(refused.status).toBe(400);
    }
    const past = await http.admin('POST', `/users/${user.id}/credits`, {
      amount: 1,
      kind: 'free',
      expires_at: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(400);
  });

  it('shows a key once, then never its secret or hash, and stores only a hash', async () => {
    const user = await createUser(http);
    const created = await createApiKey(http, user.id, {
      limit_credit_dollar: 5,
      allowed_models: ['cogvlm-chat-17b'],
      rpm_limit: 10,
    });
    expect(created.key).toMatch(/^sk-[0-9a-f]{64}$/);
    expect(created).toMatchObject({
      prefix: created.key.slice(0, 11),
      last4: created.key.slice(-4),
      limit_credit_dollar: 5,
      spent_dollar: 0,
      rpm_limit: 10,
    });

    const list = await http.admin('GET', `/api-keys?user_id=${user.id}`);
    expect(list.status).toBe(200);
    expect(list.body.next_cursor).toBeNull();
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].id).toBe(created.id);
    expect(list.body.items[0]).not.toHaveProperty('key');
    expect(list.body.items[0]).not.toHaveProperty('key_hash');
    expect(list.text).not.toContain(created.key);
    expect(list.text).not.toContain(created.key.slice(11, -4));

    const stored = await testApp.db.query(`SELECT t::text AS row FROM api_keys t WHERE id = $1`, [
      created.id,
    ]);
    expect(stored.rows[0].row).not.toContain(created.key.slice(3));

    expect((await http.admin('DELETE', `/api-keys/${created.id}`)).status).toBe(204);
    expect((await http.admin('GET', `/api-keys?user_id=${user.id}`)).body).toEqual({
      items: [],
      next_cursor: null,
    });
    expect((await http.admin('DELETE', `/api-keys/${created.id}`)).status).toBe(404);
  });

  it('refuses key settings that make no sense', async () => {
    const user = await createUser(http);
    for (const bad of [
      { name: '' },
      { limit_credit_dollar: -1 },
      { rpm_limit: 0 },
      { rpm_limit: 1.5 },
      { allowed_models: 'cogvlm-chat-17b' },
      { expires_at: 'tomorrow' },
      { expires_at: '2020-01-01T00:00:00Z' },
    ]) {
      const response = await http.admin('POST', '/api-keys', {
        user_id: user.id,
        name: 'k',
        ...bad,
      });
      expect({ bad, status: response.status }).toEqual({ bad, status: 400 });
    }
  });

  it('shows a service client secret once, and stores only a hash', async () => {
    const created = await http.admin('POST', '/service-clients', { name: 'eu-1' });
    expect(created.status).toBe(201);
    expect(created.body.secret_key).toMatch(/^ss-[0-9a-f]{64}$/);
    const list = await http.admin('GET', '/service-clients');
    expect(list.text).not.toContain(created.body.secret_key);
    expect(list.body.find((client: { id: string }) => client.id === created.body.id)).toMatchObject(
      { name: 'eu-1', revoked_at: null },
    );
    const stored = await testApp.db.query(
      `SELECT t::text AS row FROM service_clients t WHERE id = $1`,
      [created.body.id],
    );
    expect(stored.rows[0].row).not.toContain(created.body.secret_key.slice(3));
    expect((await http.admin('DELETE', `/service-clients/${created.body.id}`)).status).toBe(204);
    expect((await http.admin('DELETE', `/service-clients/${created.body.id}`)).status).toBe(404);
  });

  it('manages organizations and members', async () => {
    const owner = await createUser(http);
    const member = await createUser(http);
    const organization = await createOrganization(http, owner.id, 'Acme');
    expect(organization).toMatchObject({
      name: 'Acme',
      owner_user_id: owner.id,
      public_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect((await http.admin('GET', `/organizations/${organization.public_id}`)).body.id).toBe(
      organization.id,
    );

    const added = await http.admin('POST', `/organizations/${organization.id}/members`, {
      user_id: member.id,
      role: 'manager',
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      organization_id: organization.id,
      user_id: member.id,
      role: 'manager',
    });
    expect(
      (
        await http.admin('POST', `/organizations/${organization.id}/members`, {
          user_id: member.id,
          role: 'reader',
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await http.admin('POST', `/organizations/${organization.id}/members`, {
          user_id: member.id,
          role: 'owner',
        })
      ).status,
    ).toBe(400);

    expect(
      (await http.admin('DELETE', `/organizations/${organization.id}/members/${member.id}`)).status,
    ).toBe(204);
    expect(
      (await http.admin('DELETE', `/organizations/${organization.id}/members/${member.id}`)).status,
    ).toBe(404);
    const rows = await testApp.db.query(
      'SELECT removed_at FROM organization_members WHERE user_id = $1',
      [member.id],
    );
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0].removed_at).not.toBeNull();
  });

  it('creates and reprices models', async () => {
    const created = await putModel(http, 'llama-3.1-8b', 0.05, 0.08);
    expect(created).toMatchObject({
      unique_name: 'llama-3.1-8b',
      enabled: true,
      price_million_input: 0.05,
      price_million_output: 0.08,
    });
    const updated = await http.admin('PUT', '/models/llama-3.1-8b', {
      price_million_input: 0.06,
      price_million_output: 0.09,
      enabled: false,
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      id: created.id,
      enabled: false,
      price_million_input: 0.06,
    });
    const repriced = await putModel(http, 'llama-3.1-8b', 0.07, 0.1);
    expect(repriced.enabled).toBe(false);
    const list = await http.admin('GET', '/models');
    expect(list.body.map((model: { unique_name: string }) => model.unique_name)).toContain(
      'llama-3.1-8b',
    );
    expect(
      (await http.admin('PUT', '/models/x', { price_million_input: -1, price_million_output: 1 }))
        .status,
    ).toBe(400);
    expect(
      (
        await http.admin('PUT', `/models/${'m'.repeat(201)}`, {
          price_million_input: 1,
          price_million_output: 1,
        })
      ).status,
    ).toBe(400);
  });

  it('keeps secrets out of the database in clear', async () => {
    const user = await createUser(http);
    await createApiKey(http, user.id);
    await http.admin('POST', '/service-clients', { name: 'hashed' });
    // SHA-256 digests: 32 bytes each, never the 67-character key or secret.
    const { rows } = await testApp.db.query(
      `SELECT (SELECT array_agg(DISTINCT octet_length(key_hash)) FROM api_key_hashes) AS keys,
              (SELECT array_agg(DISTINCT octet_length(secret_hash)) FROM service_client_secrets) AS secrets`,
    );
    expect(rows[0]).toEqual({ keys: [32], secrets: [32] });
  });
});
