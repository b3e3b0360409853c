import { randomUUID } from 'node:crypto';
import { createApiKey, createOrganization, createUser } from './support/factories.js';
import { Http } from './support/http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

describe('audit log and the conventions of the lifecycle routes', () => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
  });
  afterAll(() => testApp.close());

  const auditRows = async () =>
    (await testApp.db.query(`SELECT a.*, a::text AS row_text FROM audit_log a ORDER BY id`)).rows;

  it('writes exactly one audit row per admin change, without secrets', async () => {
    const user = await createUser(http);
    const other = await createUser(http);
    const organization = await createOrganization(http, user.id);
    const key = await createApiKey(http, user.id);
    const client = await http.admin('POST', '/service-clients', { name: 'audited' });

    const mutations: [string, string, string, unknown?][] = [
      ['user.create', 'POST', '/users', { email: 'audit@example.com' }],
      ['user.update', 'PATCH', `/users/${user.id}`, { credit_plan: 'invoice', credit_limit: 10 }],
      ['user.credit.paid', 'POST', `/users/${user.id}/credits`, { amount: 3 }],
      [
        'organization.create',
        'POST',
        '/organizations',
        { name: 'Audited', owner_user_id: user.id },
      ],
      ['organization.update', 'PATCH', `/organizations/${organization.id}`, { name: 'Renamed' }],
      [
        'organization.member.add',
        'POST',
        `/organizations/${organization.id}/members`,
        { user_id: other.id, role: 'reader' },
      ],
      [
        'organization.member.update',
        'PATCH',
        `/organizations/${organization.id}/members/${other.id}`,
        { role: 'manager' },
      ],
      [
        'organization.member.remove',
        'DELETE',
        `/organizations/${organization.id}/members/${other.id}`,
      ],
      [
        'organization.transfer',
        'POST',
        `/organizations/${organization.id}/transfer`,
        { owner_user_id: other.id },
      ],
      ['api_key.create', 'POST', '/api-keys', { user_id: user.id, name: 'k' }],
      [
        'api_key.import',
        'POST',
        '/api-keys/import',
        { user_id: user.id, name: 'old', key: 'sk-legacy-audit-key-123456' },
      ],
      ['api_key.update', 'PATCH', `/api-keys/${key.id}`, { name: 'renamed' }],
      ['api_key.rotate', 'POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 10 }],
      ['api_key.delete', 'DELETE', `/api-keys/${key.id}`],
      ['service_client.create', 'POST', '/service-clients', { name: 'another' }],
      ['service_client.rotate', 'POST', `/service-clients/${client.body.id}/rotate`, {}],
      ['service_client.revoke', 'DELETE', `/service-clients/${client.body.id}`],
      [
        'model.create',
        'PUT',
        '/models/audited-model',
        { price_million_input: 1, price_million_output: 2 },
      ],
      [
        'model.update',
        'PUT',
        '/models/audited-model',
        { price_million_input: 3, price_million_output: 4 },
      ],
    ];

    const secrets = [ADMIN_TOKEN, key.key, client.body.secret_key, 'sk-legacy-audit-key-123456'];
    for (const [action, method, path, body] of mutations) {
      const before = await auditRows();
      const response = await http.admin(method, path, body);
      expect({ action, status: response.status }).toEqual({ action, status: expect.any(Number) });
      expect(response.status).toBeLessThan(300);
      for (const field of ['key', 'secret_key'])
        if (response.body?.[field]) secrets.push(response.body[field]);

      const after = await auditRows();
      expect({ action, added: after.length - before.length }).toEqual({ action, added: 1 });
      const row = after[after.length - 1];
      expect(row).toMatchObject({
        action,
        actor: expect.stringMatching(/^admin-token:[0-9a-f]{8}$/),
        request_id: response.headers.get('x-request-id'),
      });
      for (const secret of secrets) {
        expect(row.row_text).not.toContain(secret);
        expect(row.row_text).not.toContain(secret.slice(11, -4));
      }
    }
  });

  it('changes nothing, and audits nothing, on a refused admin call', async () => {
    const before = await auditRows();
    await http.admin('PATCH', `/api-keys/${randomUUID()}`, { name: 'x' });
    await http.admin('POST', '/users', { email: 'not-an-email' });
    await http.request('POST', '/api/admin/users', { body: {} });
    expect(await auditRows()).toHaveLength(before.length);
  });

  it('lists the audit log with filters and keyset pagination', async () => {
    const all = await http.admin('GET', '/audit?limit=500');
    expect(all.status).toBe(200);
    const ids = all.body.items.map((item: { id: string }) => Number(item.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const keyRows = await http.admin('GET', `/audit?target_type=api_key&action=api_key.create`);
    expect(keyRows.body.items.length).toBeGreaterThan(0);
    for (const item of keyRows.body.items)
      expect(item).toMatchObject({ target_type: 'api_key', action: 'api_key.create' });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await http.admin(
        'GET',
        `/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((item: { id: string }) => item.id));

    const window = await http.admin(
      'GET',
      `/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(window.body).toEqual({ items: [], next_cursor: null });
    for (const bad of [
      'limit=0',
      'limit=abc',
      'cursor=x',
      'target_type=planet',
      'from=yesterday',
      'colour=red',
    ]) {
      expect({ bad, status: (await http.admin('GET', `/audit?${bad}`)).status }).toEqual({
        bad,
        status: 400,
      });
    }
  });

  describe('new routes', () => {
    const unknown = randomUUID();
    const routes: [string, string, unknown][] = [
      ['GET', `/api-keys/${unknown}`, undefined],
      ['PATCH', `/api-keys/${unknown}`, { name: 'x' }],
      ['POST', `/api-keys/${unknown}/rotate`, { grace_seconds: 0 }],
      ['GET', `/service-clients/${unknown}`, undefined],
      ['POST', `/service-clients/${unknown}/rotate`, { grace_seconds: 0 }],
      ['PATCH', `/organizations/${unknown}`, { name: 'x' }],
      ['POST', `/organizations/${unknown}/transfer`, { owner_user_id: unknown }],
      ['GET', `/organizations/${unknown}/members`, undefined],
      ['PATCH', `/organizations/${unknown}/members/${unknown}`, { role: 'reader' }],
      ['PATCH', `/users/${unknown}`, { credit_plan: 'prepaid' }],
    ];

    it.each(routes)(
      '%s %s answers 401 without the admin token and 404 for an unknown id',
      async (method, path, body) => {
        expect((await http.request(method, `/api/admin${path}`, { body })).status).toBe(401);
        const response = await http.admin(method, path, body);
        expect(response.status).toBe(404);
        expect(response.body).toMatchObject({ status: 404, code: 'not_found' });
      },
    );

    it.each([
      ['GET', '/organizations', undefined],
      ['GET', '/users', undefined],
      ['GET', '/audit', undefined],
      ['POST', '/api-keys/import', { user_id: unknown, name: 'x', key: 'sk-123456789' }],
    ] as [string, string, unknown][])(
      '%s %s answers 401 without the admin token',
      async (method, path, body) => {
        expect((await http.request(method, `/api/admin${path}`, { body })).status).toBe(401);
      },
    );

    it('answers 400 on unknown fields of every new body', async () => {
      const user = await createUser(http);
      const organization = await createOrganization(http, user.id);
      const member = await createUser(http);
      await http.admin('POST', `/organizations/${organization.id}/members`, {
        user_id: member.id,
        role: 'reader',
      });
      const key = await createApiKey(http, user.id);
      const client = await http.admin('POST', '/service-clients', { name: 'c' });
      const cases: [string, string, unknown][] = [
        ['PATCH', `/api-keys/${key.id}`, { name: 'x', owner: 'y' }],
        ['POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 1, reason: 'leak' }],
        [
          'POST',
          '/api-keys/import',
          { user_id: user.id, name: 'x', key: 'sk-123456789', legacy: true },
        ],
        ['POST', `/service-clients/${client.body.id}/rotate`, { grace: 1 }],
        ['PATCH', `/organizations/${organization.id}`, { title: 'x' }],
        ['PATCH', `/organizations/${organization.id}`, { spend_roles: ['owner'] }],
        [
          'POST',
          `/organizations/${organization.id}/transfer`,
          { owner_user_id: member.id, keep: true },
        ],
        [
          'PATCH',
          `/organizations/${organization.id}/members/${member.id}`,
          { role: 'reader', admin: true },
        ],
        ['PATCH', `/users/${user.id}`, { credit_plan: 'invoice', vip: true }],
      ];
      for (const [method, path, body] of cases) {
        const response = await http.admin(method, path, body);
        expect({ path, body, status: response.status, code: response.body.code }).toEqual({
          path,
          body,
          status: 400,
          code: 'validation_failed',
        });
      }
    });
  });
});
