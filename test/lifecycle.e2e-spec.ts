import { generateApiKey } from '../src/auth/secrets.js';
import {
  addCredit,
  createApiKey,
  createOrganization,
  createServiceClient,
  createTenant,
  createUser,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('key and tenant lifecycle', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '100000' });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterAll(() => testApp.close());

  const auth = (key: string, secret = tenant.secretKey, extra: Record<string, string> = {}) =>
    http.post(AUTH, { model: tenant.model }, { SecretKey: secret, Authorization: key, ...extra });

  describe('API keys', () => {
    it('reads and updates a key', async () => {
      const key = await createApiKey(http, tenant.userId, { metadata: { team: 'search' } });
      const got = await http.admin('GET', `/api-keys/${key.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        id: key.id,
        name: 'test',
        metadata: { team: 'search' },
        spend_period: 'lifetime',
      });
      expect(got.body).not.toHaveProperty('key');

      const patched = await http.admin('PATCH', `/api-keys/${key.id}`, {
        name: 'renamed',
        limit_credit_dollar: 12.5,
        spend_period: 'monthly',
        allowed_models: ['cogvlm-chat-17b'],
        rpm_limit: 7,
        metadata: { team: 'ads' },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        name: 'renamed',
        limit_credit_dollar: 12.5,
        spend_period: 'monthly',
        allowed_models: ['cogvlm-chat-17b'],
        rpm_limit: 7,
        metadata: { team: 'ads' },
      });
      const cleared = await http.admin('PATCH', `/api-keys/${key.id}`, {
        limit_credit_dollar: null,
        allowed_models: null,
      });
      expect(cleared.body).toMatchObject({
        limit_credit_dollar: null,
        allowed_models: null,
        name: 'renamed',
      });
    });

    it('applies an updated allow-list and expiry on the next request', async () => {
      const key = await createApiKey(http, tenant.userId);
      expect((await auth(key.key)).status).toBe(200);
      await http.admin('PATCH', `/api-keys/${key.id}`, { allowed_models: ['gpt-4o'] });
      expect((await auth(key.key)).body.code).toBe('model_not_allowed');
      await http.admin('PATCH', `/api-keys/${key.id}`, {
        allowed_models: null,
        expires_at: new Date(Date.now() + 1000).toISOString(),
      });
      expect((await auth(key.key)).status).toBe(200);
      await sleep(1100);
      expect((await auth(key.key)).body.code).toBe('api_key_expired');
    });

    it('caps monthly spend when the period is monthly', async () => {
      const key = await createApiKey(http, tenant.userId, {
        limit_credit_dollar: 0.0001,
        spend_period: 'monthly',
      });
      const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
      for (let i = 0; i < 2; i++)
        expect((await http.post(LOG, seedUsageBody(), headers)).status).toBe(201);
      expect((await auth(key.key)).body.code).toBe('api_key_limit_exceeded');
      const got = await http.admin('GET', `/api-keys/${key.id}`);
      expect(got.body).toMatchObject({ spent_dollar: 0.00018, spent_this_month: 0.00018 });
      // Raising the cap lets it through again, at once.
      await http.admin('PATCH', `/api-keys/${key.id}`, { limit_credit_dollar: 1 });
      expect((await auth(key.key)).status).toBe(200);
    });

    it('rotates with a grace period: both work during it, only the new one after', async () => {
      const key = await createApiKey(http, tenant.userId, {
        rpm_limit: 1000,
        metadata: { env: 'prod' },
      });
      expect(
        (
          await http.post(LOG, seedUsageBody(), {
            SecretKey: tenant.secretKey,
            Authorization: key.key,
          })
        ).status,
      ).toBe(201);

      const rotated = await http.admin('POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 2 });
      expect(rotated.status).toBe(200);
      expect(rotated.body.key).toMatch(/^sk-[0-9a-f]{64}$/);
      expect(rotated.body.key).not.toBe(key.key);
      // Same key: id, settings and spend follow.
      expect(rotated.body).toMatchObject({
        id: key.id,
        rpm_limit: 1000,
        metadata: { env: 'prod' },
        spent_dollar: 0.00009,
      });
      expect(rotated.body.previous_key_valid_until).not.toBeNull();

      expect((await auth(key.key)).status).toBe(200);
      expect((await auth(rotated.body.key)).status).toBe(200);
      await sleep(2100);
      const old = await auth(key.key);
      expect({ status: old.status, code: old.body.code }).toEqual({
        status: 401,
        code: 'api_key_revoked',
      });
      const fresh = await auth(rotated.body.key);
      expect(fresh.status).toBe(200);
      expect(fresh.body.api_key_id).toBe(key.id);
    });

    it('rotates with no grace: the old key fails at once', async () => {
      const key = await createApiKey(http, tenant.userId);
      expect((await auth(key.key)).status).toBe(200);
      const rotated = await http.admin('POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 0 });
      expect(rotated.status).toBe(200);
      expect((await auth(key.key)).body.code).toBe('api_key_revoked');
      expect((await auth(rotated.body.key)).status).toBe(200);
    });

    it('never leaves two current keys under concurrent rotations and a revocation', async () => {
      const key = await createApiKey(http, tenant.userId);
      const rotations = await Promise.all(
        Array.from({ length: 10 }, () =>
          http.admin('POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 0 }),
        ),
      );
      expect(rotations.map((r) => r.status)).toEqual(Array(10).fill(200));
      const current = await testApp.db.query(
        'SELECT count(*)::int AS n FROM api_key_hashes WHERE api_key_id = $1 AND valid_until IS NULL',
        [key.id],
      );
      expect(current.rows[0].n).toBe(1);
      const working = [];
      for (const rotation of rotations)
        if ((await auth(rotation.body.key)).status === 200) working.push(rotation);
      expect(working).toHaveLength(1);

      const [, revoked] = await Promise.all([
        http.admin('POST', `/api-keys/${key.id}/rotate`, { grace_seconds: 60 }),
        http.admin('DELETE', `/api-keys/${key.id}`),
      ]);
      expect(revoked.status).toBe(204);
      for (const rotation of rotations) expect((await auth(rotation.body.key)).status).toBe(401);
    });

    it('rejects rotation of unknown or deleted keys and bad grace periods', async () => {
      const key = await createApiKey(http, tenant.userId);
      for (const grace of [-1, 604_801, 1.5, '10']) {
        const response = await http.admin('POST', `/api-keys/${key.id}/rotate`, {
          grace_seconds: grace,
        });
        expect({ grace, status: response.status }).toEqual({ grace, status: 400 });
      }
      await http.admin('DELETE', `/api-keys/${key.id}`);
      expect((await http.admin('POST', `/api-keys/${key.id}/rotate`, {})).status).toBe(404);
      expect((await http.admin('PATCH', `/api-keys/${key.id}`, { name: 'x' })).status).toBe(404);
      expect((await http.admin('GET', `/api-keys/${key.id}`)).status).toBe(404);
    });
  });

  describe('legacy keys', () => {
    it('imports a key of the old platform, which then works without a checksum', async () => {
      const legacy = 'sk-OldPlatformKey0123456789abcdefABCDEF';
      expect((await auth(legacy)).body.code).toBe('invalid_api_key');
      const imported = await http.admin('POST', '/api-keys/import', {
        user_id: tenant.userId,
        name: 'old',
        key: legacy,
      });
      expect(imported.status).toBe(201);
      expect(imported.body).toMatchObject({
        legacy: true,
        // A quarter of the key at most: 5 characters in front, 4 at the end.
        prefix: 'sk-OldPl',
        last4: 'CDEF',
      });
      const ok = await auth(legacy);
      expect(ok.status).toBe(200);
      expect(ok.body.api_key_id).toBe(imported.body.id);
      // Other keys that fail their checksum are still refused, after a lookup now.
      expect((await auth(generateApiKey().slice(0, -1) + '0')).body.code).toBe('invalid_api_key');

      const stored = await testApp.db.query(
        `SELECT string_agg(h::text, '') AS rows FROM api_key_hashes h`,
      );
      expect(stored.rows[0].rows).not.toContain(legacy.slice(3));
      expect(
        (
          await http.admin('POST', '/api-keys/import', {
            user_id: tenant.userId,
            name: 'again',
            key: legacy,
          })
        ).status,
      ).toBe(409);
      expect(
        (
          await http.admin('POST', '/api-keys/import', {
            user_id: tenant.userId,
            name: 'bad',
            key: 'pk-nope',
          })
        ).status,
      ).toBe(400);
    });
  });

  describe('service clients', () => {
    it('rotates a secret with a grace period, records last use, and revokes', async () => {
      const client = await createServiceClient(http, 'rotating');
      expect((await auth(tenant.apiKey, client.secret_key)).status).toBe(200);
      const used = await http.admin('GET', `/service-clients/${client.id}`);
      expect(used.body.last_used_at).not.toBeNull();

      const rotated = await http.admin('POST', `/service-clients/${client.id}/rotate`, {
        grace_seconds: 1,
      });
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret_key).not.toBe(client.secret_key);
      expect((await auth(tenant.apiKey, client.secret_key)).status).toBe(200);
      expect((await auth(tenant.apiKey, rotated.body.secret_key)).status).toBe(200);
      await sleep(1100);
      expect((await auth(tenant.apiKey, client.secret_key)).body.code).toBe('invalid_secret_key');
      expect((await auth(tenant.apiKey, rotated.body.secret_key)).status).toBe(200);

      expect((await http.admin('DELETE', `/service-clients/${client.id}`)).status).toBe(204);
      expect((await auth(tenant.apiKey, rotated.body.secret_key)).body.code).toBe(
        'invalid_secret_key',
      );
      const list = await http.admin('GET', '/service-clients');
      expect(list.body.find((c: { id: string }) => c.id === client.id).revoked_at).not.toBeNull();
      expect(list.text).not.toContain(rotated.body.secret_key);
    });
  });

  describe('organizations', () => {
    it('lists, renames, transfers ownership and manages member roles', async () => {
      const owner = await createUser(http);
      const next = await createUser(http);
      await addCredit(http, owner.id, { amount: 1 });
      await addCredit(http, next.id, { amount: 2 });
      const organization = await createOrganization(http, owner.id, 'Before');
      const headers = { 'Swarms-Organization': organization.public_id };

      await http.admin('POST', `/organizations/${organization.id}/members`, {
        user_id: tenant.userId,
        role: 'reader',
      });
      const members = await http.admin('GET', `/organizations/${organization.id}/members`);
      expect(members.body).toEqual([
        expect.objectContaining({ user_id: tenant.userId, role: 'reader' }),
      ]);

      expect(
        (await http.admin('PATCH', `/organizations/${organization.id}`, { name: 'After' })).body
          .name,
      ).toBe('After');
      expect((await auth(tenant.apiKey, tenant.secretKey, headers)).body.credit).toEqual({
        plan: 'prepaid',
        remaining: 1,
      });

      // Only managers may spend: the reader is refused at once, then let in as a manager.
      const restricted = await http.admin('PATCH', `/organizations/${organization.id}`, {
        spend_roles: ['manager'],
      });
      expect(restricted.body.spend_roles).toEqual(['manager']);
      expect((await auth(tenant.apiKey, tenant.secretKey, headers)).body.code).toBe(
        'organization_spend_not_allowed',
      );
      const promoted = await http.admin(
        'PATCH',
        `/organizations/${organization.id}/members/${tenant.userId}`,
        { role: 'manager' },
      );
      if (promoted.status !== 200) throw new Error(promoted.text);
      expect(promoted.body.role).toBe('manager');
      expect((await auth(tenant.apiKey, tenant.secretKey, headers)).status).toBe(200);

      const transferred = await http.admin('POST', `/organizations/${organization.id}/transfer`, {
        owner_user_id: next.id,
      });
      expect(transferred.body.owner_user_id).toBe(next.id);
      // The new owner pays from the next request on; the old owner stays on as a manager.
      expect((await auth(tenant.apiKey, tenant.secretKey, headers)).body.credit).toEqual({
        plan: 'prepaid',
        remaining: 2,
      });
      const after = await http.admin('GET', `/organizations/${organization.id}/members`);
      expect(
        after.body.map((m: { user_id: string; role: string }) => [m.user_id, m.role]).sort(),
      ).toEqual(
        [
          [owner.id, 'manager'],
          [tenant.userId, 'manager'],
        ].sort(),
      );

      const list = await http.admin('GET', '/organizations?limit=500');
      expect(list.body.items.map((o: { id: string }) => o.id)).toContain(organization.id);
    });
  });

  describe('users', () => {
    it('pages through users with a keyset cursor', async () => {
      for (let i = 0; i < 5; i++) await createUser(http);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await http.admin(
          'GET',
          `/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.items.map((u: { id: string }) => u.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      const { rows } = await testApp.db.query('SELECT id FROM users ORDER BY created_at, id');
      expect(seen).toEqual(rows.map((row: { id: string }) => row.id));
      expect((await http.admin('GET', '/users?cursor=garbage')).status).toBe(400);
      expect((await http.admin('GET', '/users?limit=0')).status).toBe(400);
    });

    it('changes plan and limit, effective on the next request', async () => {
      const payer = await createTenant(http, { credit: 0 });
      expect((await auth(payer.apiKey, payer.secretKey)).body.code).toBe('insufficient_credits');
      const changed = await http.admin('PATCH', `/users/${payer.userId}`, {
        credit_plan: 'invoice',
        credit_limit: 50,
      });
      expect(changed.body).toMatchObject({ credit_plan: 'invoice', credit_limit: 50 });
      const ok = await auth(payer.apiKey, payer.secretKey);
      expect(ok.body.credit).toEqual({ plan: 'invoice', remaining: 50 });
      await http.admin('PATCH', `/users/${payer.userId}`, { credit_limit: 0 });
      expect((await auth(payer.apiKey, payer.secretKey)).body.code).toBe('billing_limit_exceeded');
    });
  });
});
