import { randomUUID } from 'node:crypto';
import {
  addCredit,
  createApiKey,
  createOrganization,
  createTenant,
  createUser,
  databaseFingerprint,
  guardHeaders,
  putModel,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const LOG = '/api/guard/log-usage';

describe('POST /api/guard/log-usage', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '1' });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterAll(() => testApp.close());

  // Decimal text without trailing zeros, as Postgres' trim_scale() writes it.
  const trimmed = (row: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => [
        key,
        typeof value === 'string' && /^-?\d+\.\d+$/.test(value)
          ? value.replace(/0+$/, '').replace(/\.$/, '')
          : value,
      ]),
    );
  const usageRows = async (apiKeyId: string) =>
    (
      await testApp.db.query('SELECT * FROM usage_events WHERE api_key_id = $1', [apiKeyId])
    ).rows.map(trimmed);
  const balance = async (userId: string) =>
    (
      await testApp.db.query(
        'SELECT trim_scale(paid)::text AS paid, trim_scale(free)::text AS free FROM user_credits WHERE user_id = $1',
        [userId],
      )
    ).rows[0];

  it('records the seed request, computes the cost on the server and debits the payer', async () => {
    const payer = await createTenant(http);
    const { status, body } = await http.post(LOG, seedUsageBody(), guardHeaders(payer));
    expect(status).toBe(201);
    expect(body).toEqual({
      status: 201,
      message: 'Success',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      cost: { input: 0.00005, output: 0.00004, total: 0.00009, client_total: 0.8, mismatch: true },
      credit: { plan: 'prepaid', remaining: 9.99991 },
    });

    const rows = await usageRows(payer.apiKeyId);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({
      id: body.id,
      user_id: payer.userId,
      payer_user_id: payer.userId,
      organization_id: null,
      service_client_id: payer.serviceClientId,
      model: 'cogvlm-chat-17b',
      input_tokens: 100,
      output_tokens: 80,
      max_tokens: 200,
      temperature: 0.7,
      top_p: 0.9,
      input_cost: '0.00005',
      output_cost: '0.00004',
      total_cost: '0.00009',
      client_input_cost: '0.5',
      client_output_cost: '0.3',
      client_total_cost: '0.8',
      price_million_input: '0.5',
      price_million_output: '0.5',
    });
    expect(row.messages).toEqual(seedUsageBody().messages);
    expect(await balance(payer.userId)).toEqual({ paid: '9.99991', free: '0' });
  });

  it('charges exactly tokens × price / 1e6, with no rounding, even for huge counts', async () => {
    await putModel(http, 'odd-priced', 999.999999, 0.000001);
    const payer = await createTenant(http, { credit: 1 });
    const { status, body, text } = await http.post(
      LOG,
      { model: 'odd-priced', input_tokens: 999_999_999, output_tokens: 1 },
      guardHeaders(payer),
    );
    expect(status).toBe(201);
    const [row] = await usageRows(payer.apiKeyId);
    expect(row).toMatchObject({
      id: body.id,
      input_cost: '999999.998000000001',
      output_cost: '0.000000000001',
      total_cost: '999999.998000000002',
    });
    // The JSON carries every digit, beyond what a double can hold.
    expect(text).toContain('"total":999999.998000000002,');
    expect(text).toContain('"remaining":-999998.998000000002}');
    expect(await balance(payer.userId)).toEqual({ paid: '-999998.998000000002', free: '0' });
  });

  it('spends unexpired free credit first, then paid credit', async () => {
    await putModel(http, 'pricey', 1_000_000, 0);
    const payer = await createTenant(http, { credit: 5 });
    await addCredit(http, payer.userId, {
      amount: 2,
      kind: 'free',
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    // 3 input tokens at $1M per million = $3: $2 free, then $1 paid.
    const { body } = await http.post(
      LOG,
      { model: 'pricey', input_tokens: 3, output_tokens: 0 },
      guardHeaders(payer),
    );
    expect(body.credit.remaining).toBe(4);
    expect(await balance(payer.userId)).toEqual({ paid: '4', free: '0' });
  });

  it('records usage even when the payer is out of credit or over the rate limit', async () => {
    const payer = await createTenant(http, { credit: 0 });
    for (let i = 0; i < 3; i++) {
      const { status } = await http.post(LOG, seedUsageBody(), guardHeaders(payer));
      expect(status).toBe(201);
    }
    expect(await usageRows(payer.apiKeyId)).toHaveLength(3);
    expect(await balance(payer.userId)).toEqual({ paid: '-0.00027', free: '0' });
  });

  describe('validation', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['negative tokens', { input_tokens: -1 }, 'input_tokens'],
      ['fractional tokens', { output_tokens: 1.5 }, 'output_tokens'],
      ['tokens as a string', { input_tokens: '12' }, 'input_tokens'],
      ['tokens above the limit', { output_tokens: 1_000_000_001 }, 'output_tokens'],
      ['temperature out of range', { temperature: 2.5 }, 'temperature'],
      ['top_p out of range', { top_p: -0.1 }, 'top_p'],
      ['negative client cost', { total_cost: -1 }, 'total_cost'],
      ['echo not a boolean', { echo: 'yes' }, 'echo'],
      ['an unknown field', { colour: 'red' }, 'colour'],
      ['an empty model', { model: '' }, 'model'],
      ['a model over 200 characters', { model: 'm'.repeat(201) }, 'model'],
      [
        'a NUL in the messages',
        { messages: [{ role: 'user', content: 'a\u0000b' }] },
        'messages[0].content',
      ],
      [
        'a lone surrogate',
        { messages: [{ role: 'user', content: 'a\ud800' }] },
        'messages[0].content',
      ],
      ['a request_id over 255 characters', { request_id: 'r'.repeat(256) }, 'request_id'],
    ];

    it.each(cases)(
      'refuses %s with a per-field error and writes nothing',
      async (_name, change, field) => {
        const before = await databaseFingerprint(testApp.db);
        const { status, body } = await http.post(LOG, seedUsageBody(change), guardHeaders(tenant));
        expect(status).toBe(400);
        expect(body).toMatchObject({
          status: 400,
          code: 'validation_failed',
          message: 'Validation failed',
        });
        expect(body.errors).toEqual(
          expect.arrayContaining([{ field, message: expect.any(String) }]),
        );
        expect(await databaseFingerprint(testApp.db)).toEqual(before);
      },
    );

    it('refuses 1e400, which JSON parsers read as Infinity', async () => {
      const raw = JSON.stringify(seedUsageBody()).replace(
        '"input_tokens":100',
        '"input_tokens":1e400',
      );
      const { status, body } = await http.request('POST', LOG, {
        raw,
        headers: guardHeaders(tenant),
      });
      expect(status).toBe(400);
      expect(body.errors).toEqual([{ field: 'input_tokens', message: expect.any(String) }]);
    });

    it('requires the token counts and the model', async () => {
      const { status, body } = await http.post(LOG, {}, guardHeaders(tenant));
      expect(status).toBe(400);
      expect(body.errors.map((error: { field: string }) => error.field).sort()).toEqual([
        'input_tokens',
        'model',
        'output_tokens',
      ]);
    });

    it('refuses a body that is not valid JSON', async () => {
      const { status, body } = await http.request('POST', LOG, {
        raw: '{"model":',
        headers: guardHeaders(tenant),
      });
      expect(status).toBe(400);
      expect(body.code).toBe('validation_failed');
    });

    it('checks the SecretKey before the body, and the API key after it', async () => {
      const noSecret = await http.post(LOG, { input_tokens: -1 }, { Authorization: tenant.apiKey });
      expect(noSecret.body.code).toBe('secret_key_missing');
      const badSecret = await http.post(
        LOG,
        { input_tokens: -1 },
        { Authorization: tenant.apiKey, SecretKey: 'x' },
      );
      expect(badSecret.body.code).toBe('invalid_secret_key');
      const badBodyAndKey = await http.post(
        LOG,
        { input_tokens: -1 },
        { SecretKey: tenant.secretKey, Authorization: 'sk-bad' },
      );
      expect(badBodyAndKey.body.code).toBe('validation_failed');
      const badKey = await http.post(LOG, seedUsageBody(), {
        SecretKey: tenant.secretKey,
        Authorization: 'sk-bad',
      });
      expect(badKey.body.code).toBe('invalid_api_key');
    });
  });

  it('leaves every table unchanged on each refused check', async () => {
    const owner = await createUser(http);
    const organization = await createOrganization(http, owner.id);
    const disallowed = await createApiKey(http, tenant.userId, { allowed_models: ['gpt-4o'] });
    const before = await databaseFingerprint(testApp.db);
    const refusals: [Record<string, string>, Record<string, unknown>, number, string][] = [
      [{ Authorization: tenant.apiKey }, seedUsageBody(), 401, 'secret_key_missing'],
      [{ SecretKey: tenant.secretKey }, seedUsageBody(), 401, 'api_key_missing'],
      [
        guardHeaders(tenant, { 'Swarms-Organization': 'nope' }),
        seedUsageBody(),
        400,
        'invalid_organization_id',
      ],
      [
        guardHeaders(tenant, { 'Swarms-Organization': randomUUID() }),
        seedUsageBody(),
        404,
        'organization_not_found',
      ],
      [
        guardHeaders(tenant, { 'Swarms-Organization': organization.public_id }),
        seedUsageBody(),
        403,
        'not_organization_member',
      ],
      [guardHeaders(tenant), seedUsageBody({ model: 'unknown-model' }), 404, 'model_not_found'],
      [
        { SecretKey: tenant.secretKey, Authorization: disallowed.key },
        seedUsageBody(),
        403,
        'model_not_allowed',
      ],
    ];
    for (const [headers, body, status, code] of refusals) {
      const response = await http.post(LOG, body, headers);
      expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
    }
    expect(await databaseFingerprint(testApp.db)).toEqual(before);
  });

  describe('organization billing', () => {
    it("debits the organization's owner and records the organization", async () => {
      const member = await createTenant(http, { credit: 1 });
      const owner = await createUser(http);
      await addCredit(http, owner.id, { amount: 50 });
      const organization = await createOrganization(http, owner.id);
      await http.admin('POST', `/organizations/${organization.id}/members`, {
        user_id: member.userId,
        role: 'reader',
      });

      const { status, body } = await http.post(
        LOG,
        seedUsageBody(),
        guardHeaders(member, { 'Swarms-Organization': organization.public_id }),
      );
      expect(status).toBe(201);
      expect(body.credit).toEqual({ plan: 'prepaid', remaining: 49.99991 });
      const [row] = await usageRows(member.apiKeyId);
      expect(row).toMatchObject({
        user_id: member.userId,
        payer_user_id: owner.id,
        organization_id: organization.id,
      });
      expect(await balance(owner.id)).toEqual({ paid: '49.99991', free: '0' });
      expect(await balance(member.userId)).toEqual({ paid: '1', free: '0' });
    });
  });

  describe('idempotency', () => {
    it('replays the first answer for the same request_id and writes nothing', async () => {
      const payer = await createTenant(http);
      const body = seedUsageBody({ request_id: 'req-1' });
      const first = await http.post(LOG, body, guardHeaders(payer));
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const fingerprint = await databaseFingerprint(testApp.db);

      const replay = await http.post(LOG, body, guardHeaders(payer));
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.text).toBe(first.text);
      expect(await databaseFingerprint(testApp.db)).toEqual(fingerprint);
    });

    it('accepts the Idempotency-Key header as the request_id', async () => {
      const payer = await createTenant(http);
      const headers = guardHeaders(payer, { 'Idempotency-Key': 'hdr-1' });
      const first = await http.post(LOG, seedUsageBody(), headers);
      const replay = await http.post(LOG, seedUsageBody(), headers);
      expect([first.status, replay.status]).toEqual([201, 201]);
      expect(replay.body.id).toBe(first.body.id);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await usageRows(payer.apiKeyId)).toHaveLength(1);
    });

    it('answers 422 when the same request_id comes with another body', async () => {
      const payer = await createTenant(http);
      await http.post(LOG, seedUsageBody({ request_id: 'req-2' }), guardHeaders(payer));
      const fingerprint = await databaseFingerprint(testApp.db);
      const reused = await http.post(
        LOG,
        seedUsageBody({ request_id: 'req-2', output_tokens: 81 }),
        guardHeaders(payer),
      );
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
      expect(await databaseFingerprint(testApp.db)).toEqual(fingerprint);
    });

    it('scopes request ids to the API key', async () => {
      const payer = await createTenant(http);
      const otherKey = await createApiKey(http, payer.userId);
      const body = seedUsageBody({ request_id: 'shared-id' });
      expect((await http.post(LOG, body, guardHeaders(payer))).status).toBe(201);
      const other = await http.post(LOG, body, {
        SecretKey: payer.secretKey,
        Authorization: otherKey.key,
      });
      expect(other.status).toBe(201);
      expect(other.headers.get('idempotent-replayed')).toBeNull();
    });

    it('writes one row for 50 concurrent identical requests', async () => {
      const payer = await createTenant(http);
      const body = seedUsageBody({ request_id: 'burst' });
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => http.post(LOG, body, guardHeaders(payer))),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(50).fill(201));
      expect(new Set(responses.map((response) => response.body.id)).size).toBe(1);
      expect(
        responses.filter((response) => !response.headers.get('idempotent-replayed')),
      ).toHaveLength(1);
      expect(await usageRows(payer.apiKeyId)).toHaveLength(1);
      expect(await balance(payer.userId)).toEqual({ paid: '9.99991', free: '0' });
    });
  });

  it('loses no update under 200 concurrent charges to one payer', async () => {
    const payer = await createTenant(http, { credit: 1 });
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => http.post(LOG, seedUsageBody(), guardHeaders(payer))),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(200).fill(201));
    // 1 − 200 × 0.00009 = 0.982, exactly.
    expect(await balance(payer.userId)).toEqual({ paid: '0.982', free: '0' });
    const { rows } = await testApp.db.query(
      `SELECT count(*)::int AS n, trim_scale(sum(total_cost))::text AS total FROM usage_events WHERE payer_user_id = $1`,
      [payer.userId],
    );
    expect(rows[0]).toEqual({ n: 200, total: '0.018' });
    const spend = await testApp.db.query(
      'SELECT trim_scale(amount)::text AS amount, requests::int FROM monthly_spend WHERE user_id = $1',
      [payer.userId],
    );
    expect(spend.rows).toEqual([{ amount: '0.018', requests: 200 }]);
  });
});
