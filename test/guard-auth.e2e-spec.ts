import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../src/auth/secrets.js';
import {
  addCredit,
  createApiKey,
  createOrganization,
  createTenant,
  createUser,
  databaseFingerprint,
  guardHeaders,
  putModel,
  type Tenant,
} from './support/factories.js';
import { CACHE_MODES } from './support/cache-modes.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const seedBody = {
  model: 'cogvlm-chat-17b',
  messages: [
    { role: 'system', content: 'You are a poetic assistant.' },
    {
      role: 'user',
      content: 'Compose a poem that explains the concept of recursion in programming.',
    },
  ],
};

describe.each(CACHE_MODES)('POST /api/guard/auth (%s)', (_mode, cacheEnv) => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '1000', ...cacheEnv });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterAll(() => testApp.close());

  async function expectError(
    response: Promise<{ status: number; body: any; headers: Headers }>,
    status: number,
    code: string,
    message: string,
  ) {
    const { status: actual, body, headers } = await response;
    expect({ status: actual, code: body.code, message: body.message }).toEqual({
      status,
      code,
      message,
    });
    expect(body.status).toBe(status);
    expect(body.request_id).toBe(headers.get('x-request-id'));
    return { body, headers };
  }

  it('answers the seed request with the success body', async () => {
    const { status, body, headers } = await http.post(AUTH, seedBody, guardHeaders(tenant));
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(body).toEqual({
      status: 200,
      message: 'Success',
      api_key_id: tenant.apiKeyId,
      user_id: tenant.userId,
      organization_id: null,
      model: 'cogvlm-chat-17b',
      credit: { plan: 'prepaid', remaining: 10 },
    });
  });

  it('accepts the Bearer form and header names in any case', async () => {
    const { status } = await http.post(AUTH, seedBody, {
      AUTHORIZATION: `Bearer ${tenant.apiKey}`,
      secretkey: tenant.secretKey,
    });
    expect(status).toBe(200);
    const lower = await http.post(AUTH, seedBody, {
      authorization: `bearer ${tenant.apiKey}`,
      SECRETKEY: tenant.secretKey,
    });
    expect(lower.status).toBe(200);
  });

  it('row 1: SecretKey missing', async () => {
    await expectError(
      http.post(AUTH, seedBody, { Authorization: tenant.apiKey }),
      401,
      'secret_key_missing',
      'Secret Key is missing',
    );
  });

  it('row 2: SecretKey unknown or revoked', async () => {
    await expectError(
      http.post(AUTH, seedBody, { Authorization: tenant.apiKey, SecretKey: 'ss-unknown' }),
      401,
      'invalid_secret_key',
      'Invalid Secret Key',
    );
    const revoked = await http.admin('POST', '/service-clients', { name: 'old' });
    expect((await http.admin('DELETE', `/service-clients/${revoked.body.id}`)).status).toBe(204);
    await expectError(
      http.post(AUTH, seedBody, {
        Authorization: tenant.apiKey,
        SecretKey: revoked.body.secret_key,
      }),
      401,
      'invalid_secret_key',
      'Invalid Secret Key',
    );
  });

  it('row 2 comes before row 3', async () => {
    await expectError(
      http.post(AUTH, seedBody, { SecretKey: 'wrong' }),
      401,
      'invalid_secret_key',
      'Invalid Secret Key',
    );
  });

  it('row 3: API key missing', async () => {
    await expectError(
      http.post(AUTH, seedBody, { SecretKey: tenant.secretKey }),
      401,
      'api_key_missing',
      'API Key is missing',
    );
    await expectError(
      http.post(AUTH, seedBody, { SecretKey: tenant.secretKey, Authorization: 'Bearer ' }),
      401,
      'api_key_missing',
      'API Key is missing',
    );
  });

  it('row 4: malformed, bad checksum or unknown key', async () => {
    const typo = tenant.apiKey.slice(0, -1) + (tenant.apiKey.endsWith('a') ? 'b' : 'a');
    for (const key of ['sk-xxx', 'hello', typo, generateApiKey()]) {
      await expectError(
        http.post(AUTH, seedBody, { SecretKey: tenant.secretKey, Authorization: key }),
        401,
        'invalid_api_key',
        'Invalid API Key',
      );
    }
  });

  it('row 4: revoked key, effective on the next request', async () => {
    const key = await createApiKey(http, tenant.userId);
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    expect((await http.post(AUTH, seedBody, headers)).status).toBe(200);
    expect((await http.admin('DELETE', `/api-keys/${key.id}`)).status).toBe(204);
    await expectError(
      http.post(AUTH, seedBody, headers),
      401,
      'api_key_revoked',
      'Invalid API Key',
    );
  });

  it('row 4: expired key', async () => {
    const key = await createApiKey(http, tenant.userId);
    await testApp.db.query(
      `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [key.id],
    );
    await expectError(
      http.post(AUTH, seedBody, { SecretKey: tenant.secretKey, Authorization: key.key }),
      401,
      'api_key_expired',
      'Invalid API Key',
    );
  });

  it('row 5: model missing, empty, not a string, or no JSON object at all', async () => {
    for (const body of [{}, { model: '' }, { model: 42 }, { messages: [] }, [1, 2]]) {
      await expectError(
        http.post(AUTH, body, guardHeaders(tenant)),
        400,
        'model_missing',
        'model is missing',
      );
    }
    await expectError(
      http.request('POST', AUTH, { raw: '{"model": ', headers: guardHeaders(tenant) }),
      400,
      'model_missing',
      'model is missing',
    );
  });

  it('row 4 comes before row 5', async () => {
    await expectError(
      http.post(AUTH, {}, { SecretKey: tenant.secretKey, Authorization: 'sk-nope' }),
      401,
      'invalid_api_key',
      'Invalid API Key',
    );
  });

  it('row 6: organization id is not a UUID', async () => {
    await expectError(
      http.post(AUTH, seedBody, guardHeaders(tenant, { 'Swarms-Organization': 'acme' })),
      400,
      'invalid_organization_id',
      'Invalid organization id',
    );
  });

  it('row 7: organization unknown', async () => {
    await expectError(
      http.post(AUTH, seedBody, guardHeaders(tenant, { 'Swarms-Organization': randomUUID() })),
      404,
      'organization_not_found',
      'Organization not found',
    );
  });

  it('row 8: not a member, or a removed member', async () => {
    const owner = await createUser(http);
    const organization = await createOrganization(http, owner.id);
    const headers = guardHeaders(tenant, { 'Swarms-Organization': organization.public_id });
    await expectError(
      http.post(AUTH, seedBody, headers),
      403,
      'not_organization_member',
      'User is not part of the organization',
    );

    await addCredit(http, owner.id, { amount: 5 });
    const added = await http.admin('POST', `/organizations/${organization.id}/members`, {
      user_id: tenant.userId,
      role: 'reader',
    });
    expect(added.status).toBe(201);
    const ok = await http.post(AUTH, seedBody, headers);
    expect(ok.status).toBe(200);
    expect(ok.body.organization_id).toBe(organization.public_id);
    expect(ok.body.credit).toEqual({ plan: 'prepaid', remaining: 5 });

    expect(
      (await http.admin('DELETE', `/organizations/${organization.id}/members/${tenant.userId}`))
        .status,
    ).toBe(204);
    await expectError(
      http.post(AUTH, seedBody, headers),
      403,
      'not_organization_member',
      'User is not part of the organization',
    );
  });

  it('row 8 passes for the owner of the organization', async () => {
    const organization = await createOrganization(http, tenant.userId);
    const { status, body } = await http.post(
      AUTH,
      seedBody,
      guardHeaders(tenant, { 'swarms-organization': organization.public_id }),
    );
    expect(status).toBe(200);
    expect(body.organization_id).toBe(organization.public_id);
  });

  it('row 9: model unknown or disabled', async () => {
    await expectError(
      http.post(AUTH, { model: 'no-such-model' }, guardHeaders(tenant)),
      404,
      'model_not_found',
      'Model not found',
    );
    await putModel(http, 'retired-model', 1, 1, false);
    await expectError(
      http.post(AUTH, { model: 'retired-model' }, guardHeaders(tenant)),
      404,
      'model_not_found',
      'Model not found',
    );
  });

  it('row 10: model not on the key allow-list', async () => {
    await putModel(http, 'gpt-4o', 2.5, 10);
    const key = await createApiKey(http, tenant.userId, { allowed_models: ['gpt-4o'] });
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    expect((await http.post(AUTH, { model: 'gpt-4o' }, headers)).status).toBe(200);
    await expectError(
      http.post(AUTH, seedBody, headers),
      403,
      'model_not_allowed',
      'Model not allowed for this API key',
    );
  });

  it('row 11: per-key rate limit with Retry-After', async () => {
    const key = await createApiKey(http, tenant.userId, { rpm_limit: 3 });
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    for (let i = 0; i < 3; i++) expect((await http.post(AUTH, seedBody, headers)).status).toBe(200);
    const { headers: responseHeaders } = await expectError(
      http.post(AUTH, seedBody, headers),
      429,
      'rate_limited',
      'Too Many Requests. Please try again later.',
    );
    expect(Number(responseHeaders.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Other keys are not affected.
    expect((await http.post(AUTH, seedBody, guardHeaders(tenant))).status).toBe(200);
  });

  it('row 12: prepaid payer without credit', async () => {
    const broke = await createTenant(http, { credit: 0 });
    await expectError(
      http.post(AUTH, seedBody, guardHeaders(broke)),
      402,
      'insufficient_credits',
      'Insufficient credits',
    );
  });

  it('row 12: expired free credit does not count', async () => {
    const user = await createUser(http);
    const expiresAt = Date.now() + 1500;
    await addCredit(http, user.id, {
      amount: 5,
      kind: 'free',
      expires_at: new Date(expiresAt).toISOString(),
    });
    const key = await createApiKey(http, user.id);
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    const ok = await http.post(AUTH, seedBody, headers);
    expect(ok.body.credit).toEqual({ plan: 'prepaid', remaining: 5 });
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 50));
    await expectError(
      http.post(AUTH, seedBody, headers),
      402,
      'insufficient_credits',
      'Insufficient credits',
    );
  });

  it('row 12: invoice payer over the monthly limit', async () => {
    const user = await createUser(http, { credit_plan: 'invoice', credit_limit: 0.0001 });
    const key = await createApiKey(http, user.id);
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    const ok = await http.post(AUTH, seedBody, headers);
    expect(ok.status).toBe(200);
    expect(ok.body.credit).toEqual({ plan: 'invoice', remaining: 0.0001 });
    // 100 + 80 tokens at $0.5/M = $0.00009; twice goes over $0.0001.
    for (let i = 0; i < 2; i++) {
      const logged = await http.post(
        '/api/guard/log-usage',
        { model: 'cogvlm-chat-17b', input_tokens: 100, output_tokens: 80 },
        headers,
      );
      expect(logged.status).toBe(201);
    }
    await expectError(
      http.post(AUTH, seedBody, headers),
      403,
      'billing_limit_exceeded',
      'You have exceeded your billing limit',
    );
  });

  it('row 12: key over its own spend cap', async () => {
    const key = await createApiKey(http, tenant.userId, { limit_credit_dollar: 0.00009 });
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    expect((await http.post(AUTH, seedBody, headers)).status).toBe(200);
    const logged = await http.post(
      '/api/guard/log-usage',
      { model: 'cogvlm-chat-17b', input_tokens: 100, output_tokens: 80 },
      headers,
    );
    expect(logged.status).toBe(201);
    await expectError(
      http.post(AUTH, seedBody, headers),
      402,
      'api_key_limit_exceeded',
      'API key spend limit exceeded',
    );
  });

  it('changes nothing in the database on any refusal', async () => {
    const before = await databaseFingerprint(testApp.db);
    await http.post(AUTH, seedBody, { Authorization: tenant.apiKey });
    await http.post(AUTH, seedBody, { SecretKey: tenant.secretKey, Authorization: 'sk-bad' });
    await http.post(AUTH, { model: 'nope' }, guardHeaders(tenant));
    await http.post(AUTH, seedBody, guardHeaders(tenant, { 'Swarms-Organization': randomUUID() }));
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  it('echoes X-Request-Id, or makes one', async () => {
    const echoed = await http.post(AUTH, seedBody, {
      ...guardHeaders(tenant),
      'X-Request-Id': 'trace-123',
    });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const made = await http.post(AUTH, seedBody, guardHeaders(tenant));
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
