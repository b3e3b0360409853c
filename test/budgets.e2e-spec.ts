import { UsageService } from '../src/usage/usage.service.js';
import {
  addCredit,
  createApiKey,
  createTenant,
  createUser,
  guardHeaders,
  putModel,
} from './support/factories.js';
import { CACHE_MODES } from './support/cache-modes.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';

describe.each(CACHE_MODES)('budgets that hold (%s)', (_mode, cacheEnv) => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp({
      DEFAULT_RPM_LIMIT: '1000000',
      // Long enough that 100 concurrent reservations on a busy machine outlive the burst.
      RESERVATION_TTL_SECONDS: '10',
      ...cacheEnv,
    });
    http = new Http(testApp.baseUrl);
    // $1 per output token: reservations in whole dollars.
    await putModel(http, 'dollar-per-token', 0, 1_000_000);
  });
  afterAll(() => testApp.close());

  const balance = async (userId: string) =>
    (
      await testApp.db.query(
        `SELECT trim_scale(paid)::text AS paid, trim_scale(reserved)::text AS reserved FROM user_credits WHERE user_id = $1`,
        [userId],
      )
    ).rows[0];

  it('lets exactly 37 of 100 concurrent reservations through against credit for 37, and settles them exactly', async () => {
    const tenant = await createTenant(http, { credit: 74 });
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        http.post(
          AUTH,
          { model: 'dollar-per-token', max_tokens: 2, request_id: `race-${i}` },
          guardHeaders(tenant),
        ),
      ),
    );
    const granted = responses.filter((r) => r.status === 200);
    expect(granted).toHaveLength(37);
    expect(
      responses
        .filter((r) => r.status === 402)
        .every((r) => r.body.code === 'insufficient_credits'),
    ).toBe(true);
    expect(responses.filter((r) => r.status !== 200 && r.status !== 402)).toEqual([]);
    expect(granted[0].body.reservation).toMatchObject({ amount: 2, id: expect.any(String) });
    expect(await balance(tenant.userId)).toEqual({ paid: '74', reserved: '74' });

    // Each call used half of what it reserved: settle by request_id (half) or reservation_id.
    const settled = await Promise.all(
      granted.map((response, i) => {
        const index = responses.indexOf(response);
        const link =
          i % 2
            ? { request_id: `race-${index}` }
            : { reservation_id: response.body.reservation.id };
        return http.post(
          LOG,
          { model: 'dollar-per-token', input_tokens: 0, output_tokens: 1, ...link },
          guardHeaders(tenant),
        );
      }),
    );
    expect(settled.map((r) => r.status)).toEqual(Array(37).fill(201));
    expect(await balance(tenant.userId)).toEqual({ paid: '37', reserved: '0' });
    const open = await testApp.db.query(
      `SELECT count(*)::int AS n FROM reservations WHERE api_key_id = $1 AND settled_at IS NULL`,
      [tenant.apiKeyId],
    );
    expect(open.rows[0].n).toBe(0);
  });

  it('releases reservations nobody settles when they expire', async () => {
    const tenant = await createTenant(http, { credit: 3 });
    const first = await http.post(
      AUTH,
      { model: 'dollar-per-token', max_tokens: 3 },
      guardHeaders(tenant),
    );
    expect(first.status).toBe(200);
    const second = await http.post(
      AUTH,
      { model: 'dollar-per-token', max_tokens: 1 },
      guardHeaders(tenant),
    );
    expect(second.body.code).toBe('insufficient_credits');
    // Expired after 10 s, and released by the sweep (every 5 s) soon after.
    const deadline = Date.now() + 30_000;
    while ((await balance(tenant.userId)).reserved !== '0' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(await balance(tenant.userId)).toEqual({ paid: '3', reserved: '0' });
    expect(
      (await http.post(AUTH, { model: 'dollar-per-token', max_tokens: 1 }, guardHeaders(tenant)))
        .status,
    ).toBe(200);
  });

  it('holds the key cap and refuses bad reservation fields', async () => {
    const tenant = await createTenant(http, { credit: 100 });
    const key = await createApiKey(http, tenant.userId, { limit_credit_dollar: 5 });
    const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
    expect(
      (await http.post(AUTH, { model: 'dollar-per-token', max_tokens: 4 }, headers)).status,
    ).toBe(200);
    expect(
      (await http.post(AUTH, { model: 'dollar-per-token', max_tokens: 2 }, headers)).body.code,
    ).toBe('api_key_limit_exceeded');
    for (const bad of [
      { max_tokens: -1 },
      { max_tokens: 1.5 },
      { max_tokens: '10' },
      { max_tokens: 1, input_tokens: 'x' },
    ]) {
      const response = await http.post(AUTH, { model: 'dollar-per-token', ...bad }, headers);
      expect({ bad, status: response.status, code: response.body.code }).toEqual({
        bad,
        status: 400,
        code: 'validation_failed',
      });
    }
  });

  describe('organization budgets', () => {
    it('refuses auth once the organization is over its monthly budget', async () => {
      const owner = await createUser(http);
      await addCredit(http, owner.id, { amount: 100 });
      const organization = (
        await http.admin('POST', '/organizations', { name: 'Budgeted', owner_user_id: owner.id })
      ).body;
      const tenant = await createTenant(http);
      await http.admin('POST', `/organizations/${organization.id}/members`, {
        user_id: tenant.userId,
        role: 'reader',
      });
      const updated = await http.admin('PATCH', `/organizations/${organization.id}`, {
        monthly_budget: 2.5,
        time_zone: 'Pacific/Auckland',
      });
      expect(updated.body).toMatchObject({ monthly_budget: 2.5, time_zone: 'Pacific/Auckland' });
      const headers = guardHeaders(tenant, { 'Swarms-Organization': organization.public_id });

      expect((await http.post(AUTH, { model: 'dollar-per-token' }, headers)).status).toBe(200);
      expect(
        (await http.post(AUTH, { model: 'dollar-per-token', max_tokens: 3 }, headers)).body.code,
      ).toBe('organization_budget_exceeded');
      for (let i = 0; i < 3; i++) {
        expect(
          (
            await http.post(
              LOG,
              { model: 'dollar-per-token', input_tokens: 0, output_tokens: 1 },
              headers,
            )
          ).status,
        ).toBe(201);
      }
      const refused = await http.post(AUTH, { model: 'dollar-per-token' }, headers);
      expect({ status: refused.status, code: refused.body.code }).toEqual({
        status: 403,
        code: 'organization_budget_exceeded',
      });

      const { rows } = await testApp.db.query(
        `SELECT month = guard_month_in('Pacific/Auckland', now()) AS local_month, trim_scale(amount)::text AS amount
         FROM organization_monthly_spend WHERE organization_id = $1`,
        [organization.id],
      );
      expect(rows).toEqual([{ local_month: true, amount: '3' }]);
      expect(
        (
          await http.admin('PATCH', `/organizations/${organization.id}`, {
            time_zone: 'Mars/Olympus',
          })
        ).status,
      ).toBe(400);
      // Raising the budget lets it through at once.
      await http.admin('PATCH', `/organizations/${organization.id}`, { monthly_budget: null });
      expect((await http.post(AUTH, { model: 'dollar-per-token' }, headers)).status).toBe(200);
    });
  });
});

/** Money rules below the guard: the same whether or not the guard caches. */
describe('the ledger', () => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
  });
  afterAll(() => testApp.close());

  it('counts a month boundary in the organization’s time zone', async () => {
    const cases: [string, string, string][] = [
      // 11:30 UTC on 30 November is 00:30 on 1 December in Auckland (UTC+13).
      ['Pacific/Auckland', '2026-11-30T11:30:00Z', '2026-12-01'],
      ['Pacific/Auckland', '2026-11-30T10:59:59Z', '2026-11-01'],
      // 05:00 UTC on 1 December is still 30 November in Los Angeles (UTC-8).
      ['America/Los_Angeles', '2026-12-01T05:00:00Z', '2026-11-01'],
      ['America/Los_Angeles', '2026-12-01T08:00:00Z', '2026-12-01'],
      ['UTC', '2026-12-01T00:00:00Z', '2026-12-01'],
      ['Asia/Kolkata', '2026-11-30T18:29:59Z', '2026-11-01'],
      ['Asia/Kolkata', '2026-11-30T18:30:00Z', '2026-12-01'],
    ];
    for (const [zone, at, month] of cases) {
      const { rows } = await testApp.db.query(
        `SELECT guard_month_in($1, $2::timestamptz)::text AS month`,
        [zone, at],
      );
      expect({ zone, at, month: rows[0].month }).toEqual({ zone, at, month });
    }
  });

  it('sums 100,000 tiny charges to the exact decimal total', async () => {
    // $0.000001 per million tokens: one token costs $0.000000000001. The charges go through the
    // service's own recording statement, spread over 25 payers so they run side by side.
    const model = await putModel(http, 'tiny', 0.000001, 0);
    const tenants = [];
    for (let i = 0; i < 25; i++) tenants.push(await createTenant(http, { credit: 1 }));
    const usage = testApp.app.get(UsageService);
    const charges = 100_000;
    let next = 0;
    // Four callers per payer: each batch of the group commit carries about a hundred charges.
    await Promise.all(
      [...tenants, ...tenants, ...tenants, ...tenants].map(async (tenant) => {
        const principal = {
          serviceClientId: tenant.serviceClientId,
          apiKeyId: tenant.apiKeyId,
          userId: tenant.userId,
          organization: null,
          payerUserId: tenant.userId,
          model: { id: model.id, uniqueName: 'tiny' },
          credit: null,
        };
        while (next < charges) {
          next++;
          await usage.record(principal, {
            model: 'tiny',
            input_tokens: 1,
            output_tokens: 0,
          } as never);
        }
      }),
    );
    const keys = tenants.map((tenant) => tenant.apiKeyId);
    const users = tenants.map((tenant) => tenant.userId);
    const { rows } = await testApp.db.query(
      `SELECT count(*)::int AS n, trim_scale(sum(total_cost))::text AS total,
         (SELECT trim_scale(sum(1 - paid))::text FROM user_credits WHERE user_id = ANY ($2)) AS debited,
         (SELECT trim_scale(sum(cost))::text FROM usage_daily WHERE api_key_id = ANY ($1)) AS rolled,
         (SELECT trim_scale(sum(spent_dollar))::text FROM api_keys WHERE id = ANY ($1)) AS key_spent
       FROM usage_events WHERE api_key_id = ANY ($1)`,
      [keys, users],
    );
    expect(rows[0]).toEqual({
      n: charges,
      total: '0.0000001',
      debited: '0.0000001',
      rolled: '0.0000001',
      key_spent: '0.0000001',
    });
  }, 600_000);
});
