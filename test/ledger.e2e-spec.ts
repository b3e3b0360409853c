import { randomUUID } from 'node:crypto';
import { LedgerService, type UsageCall } from '../src/ledger/ledger.service.js';
import {
  addCredit,
  createApiKey,
  createOrganization,
  createTenant,
  createUser,
  guardHeaders,
  putModel,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';

/** A decimal's exact digits as an integer count of 1e-12 USD: no float on the way. */
function picos(text: string): bigint {
  const [whole, fraction = ''] = text.replace('-', '').split('.');
  const value = BigInt(whole + fraction.padEnd(12, '0').slice(0, 12));
  if (fraction.length > 12) throw new Error(`More than 12 decimals: ${text}`);
  return text.startsWith('-') ? -value : value;
}

/** A JSON number field as written in the response text, exactly. */
function numberIn(text: string, field: string): string {
  const match = new RegExp(`"${field}":(-?[0-9.]+)`).exec(text);
  if (!match) throw new Error(`No number ${field} in ${text}`);
  return match[1];
}

/** A usage call of `tenant` for the ledger itself, as log-usage would make it. */
function usageCall(tenant: Tenant, modelId: string, overrides: Partial<UsageCall> = {}): UsageCall {
  return {
    id: randomUUID(),
    api_key_id: tenant.apiKeyId,
    user_id: tenant.userId,
    payer_user_id: tenant.userId,
    organization_id: null,
    service_client_id: tenant.serviceClientId,
    model_id: modelId,
    input_tokens: 10,
    output_tokens: 0,
    max_tokens: null,
    temperature: null,
    top_p: null,
    echo: null,
    stream: null,
    client_input_cost: null,
    client_output_cost: null,
    client_total_cost: null,
    messages: null,
    messages_bytes: null,
    request_id: null,
    request_hash: null,
    reservation_id: null,
    ...overrides,
  };
}

describe(LedgerService.name, () => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp({ DEFAULT_RPM_LIMIT: '1000000' });
    http = new Http(testApp.baseUrl);
    // $1 per million input tokens: a call of n tokens costs n micro-dollars.
    await putModel(http, 'micro', 1, 0);
    // $1 per output token: max_tokens 1 reserves exactly $0.01 at $10,000 per million.
    await putModel(http, 'cent-per-token', 0, 10_000);
  });
  afterAll(() => testApp.close());

  const rowsPerTransaction = async (apiKeyId: string) =>
    (
      await testApp.db.query(
        `SELECT max(n)::int AS max FROM (SELECT count(*) AS n FROM usage_events WHERE api_key_id = $1 GROUP BY xmin::text) t`,
        [apiKeyId],
      )
    ).rows[0].max as number;

  it('answers a burst on one payer with the exact running balance of each charge, one row per request_id', async () => {
    const tenant = await createTenant(http, { credit: 10 });
    const headers = guardHeaders(tenant);
    const body = (i: number, extra: Record<string, unknown> = {}) => ({
      model: 'micro',
      input_tokens: 1000 + i,
      output_tokens: 0,
      ...extra,
    });
    const calls: { kind: string; request: Promise<{ status: number; text: string; body: any }> }[] =
      [];
    for (let i = 0; i < 150; i++)
      calls.push({ kind: 'plain', request: http.post(LOG, body(i), headers) });
    for (let i = 0; i < 10; i++) {
      // The same request twice, at once: one row, and the other answer replays it.
      const same = body(500 + i, { request_id: `same-${i}` });
      calls.push({ kind: `same-${i}`, request: http.post(LOG, same, headers) });
      calls.push({ kind: `same-${i}`, request: http.post(LOG, same, headers) });
    }
    for (let i = 0; i < 3; i++) {
      // The same request_id with two bodies: one is recorded, the other refused.
      calls.push({
        kind: `reused-${i}`,
        request: http.post(LOG, body(600 + i, { request_id: `reused-${i}` }), headers),
      });
      calls.push({
        kind: `reused-${i}`,
        request: http.post(LOG, body(700 + i, { request_id: `reused-${i}` }), headers),
      });
    }
    for (let i = 0; i < 5; i++) {
      calls.push({
        kind: 'unknown',
        request: http.post(LOG, { ...body(i), model: 'no-such-model' }, headers),
      });
    }
    const answers = await Promise.all(
      calls.map(async (call) => ({ ...call, ...(await call.request) })),
    );

    expect(answers.filter((a) => a.kind === 'unknown').map((a) => a.status)).toEqual([
      404, 404, 404, 404, 404,
    ]);
    expect(answers.filter((a) => a.kind === 'plain').every((a) => a.status === 201)).toBe(true);
    for (let i = 0; i < 10; i++) {
      const pair = answers.filter((a) => a.kind === `same-${i}`);
      expect(pair.map((a) => a.status)).toEqual([201, 201]);
      expect(pair[0].text).toBe(pair[1].text);
    }
    for (let i = 0; i < 3; i++) {
      const pair = answers.filter((a) => a.kind === `reused-${i}`);
      expect(pair.map((a) => a.status).sort()).toEqual([201, 422]);
      expect(pair.find((a) => a.status === 422)!.body.code).toBe('idempotency_key_reused');
    }

    // One answer per row: the distinct 201 bodies.
    const recorded = [
      ...new Map(answers.filter((a) => a.status === 201).map((a) => [a.body.id, a.text])).values(),
    ];
    expect(recorded).toHaveLength(150 + 10 + 3);
    const { rows } = await testApp.db.query(
      `SELECT id::text, trim_scale(total_cost)::text AS cost FROM usage_events WHERE api_key_id = $1`,
      [tenant.apiKeyId],
    );
    expect(rows.map((row) => row.id).sort()).toEqual(
      recorded.map((text) => JSON.parse(text).id).sort(),
    );

    // Sorted by remaining, each answer is the one before it less its own cost: the sequence the
    // calls would have had one after another, from 10 down to what is stored.
    const charges = recorded
      .map((text) => ({
        remaining: picos(numberIn(text, 'remaining')),
        cost: picos(numberIn(text, 'total')),
      }))
      .sort((a, b) => (a.remaining > b.remaining ? -1 : a.remaining < b.remaining ? 1 : 0));
    let balance = picos('10');
    for (const charge of charges) {
      balance -= charge.cost;
      expect(charge.remaining).toBe(balance);
    }
    const stored = await testApp.db.query(
      `SELECT trim_scale(paid + free)::text AS credit, trim_scale(reserved)::text AS reserved FROM user_credits WHERE user_id = $1`,
      [tenant.userId],
    );
    expect(picos(stored.rows[0].credit)).toBe(balance);
    expect(stored.rows[0].reserved).toBe('0');
    const spend = await testApp.db.query(
      `SELECT trim_scale(amount)::text AS amount, requests FROM monthly_spend WHERE user_id = $1`,
      [tenant.userId],
    );
    expect(picos(spend.rows[0].amount)).toBe(picos('10') - balance);
    expect(Number(spend.rows[0].requests)).toBe(recorded.length);
    const daily = await testApp.db.query(
      `SELECT sum(requests)::int AS requests, trim_scale(sum(cost))::text AS cost FROM usage_daily WHERE api_key_id = $1`,
      [tenant.apiKeyId],
    );
    expect(daily.rows[0]).toEqual({ requests: recorded.length, cost: spend.rows[0].amount });
    // Concurrent calls were written together.
    expect(await rowsPerTransaction(tenant.apiKeyId)).toBeGreaterThan(1);
  });

  it('fails one call of a batch alone: the others still commit', async () => {
    const tenant = await createTenant(http, { credit: 10 });
    const ledger = testApp.app.get(LedgerService);
    const [model] = (await testApp.db.query(`SELECT id FROM models WHERE unique_name = 'micro'`))
      .rows;
    const call = (overrides: Partial<UsageCall> = {}) => usageCall(tenant, model.id, overrides);
    // Submitted in one turn of the event loop: one batch, with a model that is gone and a row
    // that breaks a check constraint among good calls.
    const good = Array.from({ length: 6 }, () => call());
    const results = await Promise.allSettled([
      ledger.recordUsage(good[0]),
      ledger.recordUsage(call({ model_id: randomUUID() })),
      ledger.recordUsage(good[1]),
      ledger.recordUsage(call({ input_tokens: -1 })),
      ...good.slice(2).map((c) => ledger.recordUsage(c)),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('model_not_found');
    const { rows } = await testApp.db.query(
      `SELECT id::text FROM usage_events WHERE api_key_id = $1`,
      [tenant.apiKeyId],
    );
    expect(rows.map((row) => row.id).sort()).toEqual(good.map((c) => c.id).sort());
    const credit = await testApp.db.query(
      `SELECT trim_scale(paid)::text AS paid FROM user_credits WHERE user_id = $1`,
      [tenant.userId],
    );
    expect(credit.rows[0].paid).toBe('9.99994');
  });

  it('writes the open batch before the service stops', async () => {
    const other = await startTestApp({}, { databaseUrl: testApp.databaseUrl });
    const ledger = other.app.get(LedgerService);
    const tenant = await createTenant(http, { credit: 10 });
    const [model] = (await testApp.db.query(`SELECT id FROM models WHERE unique_name = 'micro'`))
      .rows;
    const ids = Array.from({ length: 40 }, () => randomUUID());
    const pending = ids.map((id) =>
      ledger.recordUsage(usageCall(tenant, model.id, { id, input_tokens: 1 })),
    );
    await other.app.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(40);
    const { rows } = await testApp.db.query(
      `SELECT count(*)::int AS n FROM usage_events WHERE api_key_id = $1`,
      [tenant.apiKeyId],
    );
    expect(rows[0].n).toBe(40);
  });

  it('releases each expired reservation once when instances sweep at the same time', async () => {
    const other = await startTestApp({}, { databaseUrl: testApp.databaseUrl });
    try {
      const tenant = await createTenant(http, { credit: 10 });
      for (let i = 0; i < 30; i++) {
        const reserved = await http.post(
          AUTH,
          { model: 'cent-per-token', max_tokens: 1 },
          guardHeaders(tenant),
        );
        expect(reserved.status).toBe(200);
      }
      const reservedOf = async () =>
        (
          await testApp.db.query(
            `SELECT trim_scale(c.reserved)::text AS payer, trim_scale(k.reserved)::text AS key
             FROM user_credits c, api_keys k WHERE c.user_id = $1 AND k.id = $2`,
            [tenant.userId, tenant.apiKeyId],
          )
        ).rows[0];
      expect(await reservedOf()).toEqual({ payer: '0.3', key: '0.3' });
      await testApp.db.query(
        `UPDATE reservations SET expires_at = now() - interval '1 second' WHERE api_key_id = $1`,
        [tenant.apiKeyId],
      );

      const released = await Promise.all([
        testApp.app.get(LedgerService).expire(),
        other.app.get(LedgerService).expire(),
        other.app.get(LedgerService).expire(),
        testApp.app.get(LedgerService).expire(),
      ]);
      // The sweeps' timers may have taken some too; what matters is that each went once.
      expect(released.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30);
      const deadline = Date.now() + 15_000;
      while ((await reservedOf()).payer !== '0' && Date.now() < deadline) {
        await testApp.app.get(LedgerService).expire();
      }
      expect(await reservedOf()).toEqual({ payer: '0', key: '0' });
      const { rows } = await testApp.db.query(
        `SELECT count(*)::int AS total,
                count(*) FILTER (WHERE settled_cost = 0 AND settled_at IS NOT NULL)::int AS released
         FROM reservations WHERE api_key_id = $1`,
        [tenant.apiKeyId],
      );
      expect(rows[0]).toEqual({ total: 30, released: 30 });
    } finally {
      await other.close();
    }
  });

  describe('reserve-and-settle races never grant more than the limit', () => {
    let second: TestApp;
    beforeAll(async () => {
      second = await startTestApp(
        { DEFAULT_RPM_LIMIT: '1000000' },
        { databaseUrl: testApp.databaseUrl },
      );
    });
    afterAll(() => second.close());

    /**
     * Workers that reserve $0.01 and settle it at once at the same cost, until refused: exactly
     * 100 reservations fit in $1.00, however they interleave.
     */
    async function race(tenant: Tenant, extraHeaders: Record<string, string>) {
      const headers = guardHeaders(tenant, extraHeaders);
      let granted = 0;
      const refusals = new Set<string>();
      // Two instances on one database: their batches run side by side.
      const instances = [http, new Http(second.baseUrl)];
      await Promise.all(
        Array.from({ length: 24 }, async (_, worker) => {
          const api = instances[worker % 2];
          for (let attempt = 0; attempt < 200; attempt++) {
            const auth = await api.post(AUTH, { model: 'cent-per-token', max_tokens: 1 }, headers);
            if (auth.status !== 200) {
              refusals.add(`${auth.status} ${auth.body.code}`);
              return;
            }
            granted++;
            const logged = await api.post(
              LOG,
              {
                model: 'cent-per-token',
                input_tokens: 0,
                output_tokens: 1,
                reservation_id: auth.body.reservation.id,
              },
              headers,
            );
            expect(logged.status).toBe(201);
          }
        }),
      );
      return { granted, refusals: [...refusals] };
    }

    const openReservations = async (apiKeyId: string) =>
      (
        await testApp.db.query(
          `SELECT count(*)::int AS n FROM reservations WHERE api_key_id = $1 AND settled_at IS NULL`,
          [apiKeyId],
        )
      ).rows[0].n;

    for (const round of [1, 2, 3]) {
      it(`an invoice limit (round ${round})`, async () => {
        const tenant = await createTenant(http, {
          credit: 0,
          user: { credit_plan: 'invoice', credit_limit: 1 },
        });
        const result = await race(tenant, {});
        expect(result).toEqual({ granted: 100, refusals: ['403 billing_limit_exceeded'] });
        const { rows } = await testApp.db.query(
          `SELECT trim_scale(ms.amount)::text AS spent, trim_scale(c.reserved)::text AS reserved
           FROM monthly_spend ms JOIN user_credits c USING (user_id) WHERE user_id = $1`,
          [tenant.userId],
        );
        expect(rows[0]).toEqual({ spent: '1', reserved: '0' });
        expect(await openReservations(tenant.apiKeyId)).toBe(0);
      });

      it(`an organization budget (round ${round})`, async () => {
        const tenant = await createTenant(http, { credit: 1000 });
        const organization = await createOrganization(http, tenant.userId);
        const patched = await http.admin('PATCH', `/organizations/${organization.id}`, {
          monthly_budget: 1,
        });
        expect(patched.status).toBe(200);
        const result = await race(tenant, { 'Swarms-Organization': organization.public_id });
        expect(result).toEqual({ granted: 100, refusals: ['403 organization_budget_exceeded'] });
        const { rows } = await testApp.db.query(
          `SELECT trim_scale(s.amount)::text AS spent, trim_scale(o.reserved)::text AS reserved
           FROM organization_monthly_spend s JOIN organizations o ON o.id = s.organization_id
           WHERE o.id = $1`,
          [organization.id],
        );
        expect(rows[0]).toEqual({ spent: '1', reserved: '0' });
      });

      it(`a monthly key cap (round ${round})`, async () => {
        const owner = await createTenant(http, { credit: 1000 });
        const key = await createApiKey(http, owner.userId, {
          limit_credit_dollar: 1,
          spend_period: 'monthly',
        });
        const tenant = { ...owner, apiKey: key.key, apiKeyId: key.id };
        const result = await race(tenant, {});
        expect(result).toEqual({ granted: 100, refusals: ['402 api_key_limit_exceeded'] });
        const { rows } = await testApp.db.query(
          `SELECT trim_scale(s.amount)::text AS spent, trim_scale(k.reserved)::text AS reserved
           FROM api_key_monthly_spend s JOIN api_keys k ON k.id = s.api_key_id WHERE k.id = $1`,
          [key.id],
        );
        expect(rows[0]).toEqual({ spent: '1', reserved: '0' });
      });
    }
  });

  it('settles the oldest open reservation of the key and model when usage names none', async () => {
    const tenant = await createTenant(http, { credit: 100 });
    const headers = guardHeaders(tenant);
    const named = await http.post(
      AUTH,
      { model: 'cent-per-token', max_tokens: 5, request_id: 'named-1' },
      headers,
    );
    expect(named.status).toBe(200);
    const unnamed = [];
    for (let i = 0; i < 3; i++) {
      const auth = await http.post(AUTH, { model: 'cent-per-token', max_tokens: 2 + i }, headers);
      expect(auth.status).toBe(200);
      unnamed.push(auth.body.reservation.id as string);
    }
    // Two logged without ids, concurrently: the two oldest unnamed ones settle, one each.
    const logs = await Promise.all(
      [0, 1].map(() =>
        http.post(LOG, { model: 'cent-per-token', input_tokens: 0, output_tokens: 1 }, headers),
      ),
    );
    expect(logs.map((log) => log.status)).toEqual([201, 201]);
    const { rows } = await testApp.db.query(
      `SELECT id::text, request_id, settled_at IS NOT NULL AS settled, trim_scale(settled_cost)::text AS cost
       FROM reservations WHERE api_key_id = $1 ORDER BY created_at`,
      [tenant.apiKeyId],
    );
    expect(rows).toEqual([
      { id: named.body.reservation.id, request_id: 'named-1', settled: false, cost: null },
      { id: unnamed[0], request_id: null, settled: true, cost: '0.01' },
      { id: unnamed[1], request_id: null, settled: true, cost: '0.01' },
      { id: unnamed[2], request_id: null, settled: false, cost: null },
    ]);
    // What stays reserved is exactly the two open ones: $0.05 and $0.04.
    const credit = await testApp.db.query(
      `SELECT trim_scale(reserved)::text AS reserved, trim_scale(paid)::text AS paid FROM user_credits WHERE user_id = $1`,
      [tenant.userId],
    );
    expect(credit.rows[0]).toEqual({ reserved: '0.09', paid: '99.98' });
  });

  it('answers the same remaining credit in the guard and the admin API', async () => {
    const user = await createUser(http);
    await addCredit(http, user.id, { amount: 3 });
    const tenant = await createTenant(http, { credit: 0 });
    const key = await createApiKey(http, user.id);
    const payer = { ...tenant, userId: user.id, apiKey: key.key, apiKeyId: key.id };
    const reserve = await http.post(
      AUTH,
      { model: 'cent-per-token', max_tokens: 50 },
      guardHeaders(payer),
    );
    expect(reserve.status).toBe(200);
    expect(reserve.body.credit).toEqual({ plan: 'prepaid', remaining: 2.5 });
    const auth = await http.post(AUTH, { model: 'cent-per-token' }, guardHeaders(payer));
    expect(auth.body.credit).toEqual({ plan: 'prepaid', remaining: 2.5 });
    const admin = await http.admin('GET', `/users/${user.id}`);
    expect(admin.body.credit).toMatchObject({ paid: 3, reserved: 0.5, remaining: 2.5 });
    const spend = await http.admin('GET', `/users/${user.id}/spend`);
    expect(spend.body.remaining).toBe(2.5);
  });
});
