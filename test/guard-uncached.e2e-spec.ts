import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../src/auth/secrets.js';
import {
  addCredit,
  addMember,
  createApiKey,
  createOrganization,
  createServiceClient,
  createUser,
  putModel,
  updateOrganization,
} from './support/factories.js';
import { Http, type HttpResponse } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';
const COGVLM = 'cogvlm-chat-17b';
/** $1 per output token: setup spends whole dollars. */
const DOLLAR = 'dollar-per-token';
const UNKNOWN_ORGANIZATION = randomUUID();

interface Key {
  key: string;
  id?: string;
  userId?: string;
}

interface Case {
  key: string;
  /**
   * An organization of the fixture, `unknown` (a UUID of none) or `acme` (not a UUID); none
   * or `-`: no header.
   */
  org?: string;
  model?: string;
  status: number;
  code: string | null;
}

/**
 * Every (key, organization header, model) case answers the same with the cache as without it.
 * Two instances on one database: A caches (the default), B reads Postgres with one statement
 * per request (`AUTH_CACHE=off`, the path also taken while the LISTEN connection is down).
 */
describe('the guard without its cache', () => {
  let a: TestApp;
  let b: TestApp;
  let httpA: Http;
  let httpB: Http;
  let secretKey: string;
  const keys: Record<string, Key> = {};
  const users: Record<string, string> = {};
  const orgs: Record<string, { id: string; publicId: string }> = {};

  const headersFor = (keyName: string, orgName?: string): Record<string, string> => {
    const headers: Record<string, string> = {
      SecretKey: secretKey,
      Authorization: keys[keyName].key,
    };
    if (orgName !== undefined && orgName !== '-') {
      headers['Swarms-Organization'] =
        orgName === 'unknown'
          ? UNKNOWN_ORGANIZATION
          : orgName === 'acme'
            ? 'acme'
            : orgs[orgName].publicId;
    }
    return headers;
  };

  /** Usage logged through A, in whole dollars, to put keys, payers and budgets where a case needs them. */
  async function spend(keyName: string, dollars: number, orgName?: string) {
    const response = await httpA.post(
      LOG,
      { model: DOLLAR, input_tokens: 0, output_tokens: dollars },
      headersFor(keyName, orgName),
    );
    if (response.status !== 201) throw new Error(`Setup spend failed: ${response.text}`);
  }

  async function key(name: string, userName: string, body: Record<string, unknown> = {}) {
    const created = await createApiKey(httpA, users[userName], body);
    keys[name] = { key: created.key, id: created.id, userId: users[userName] };
  }

  async function user(name: string, body: Record<string, unknown> = {}, paid?: number) {
    users[name] = (await createUser(httpA, body)).id;
    if (paid !== undefined) await addCredit(httpA, users[name], { amount: paid });
  }

  async function organization(name: string, ownerName: string, settings?: Record<string, unknown>) {
    const created = await createOrganization(httpA, users[ownerName], name);
    orgs[name] = { id: created.id, publicId: created.public_id };
    if (settings) await updateOrganization(httpA, created.id, settings);
  }

  beforeAll(async () => {
    a = await startTestApp({ DEFAULT_RPM_LIMIT: '100000' });
    b = await startTestApp(
      { DEFAULT_RPM_LIMIT: '100000', AUTH_CACHE: 'off' },
      { databaseUrl: a.databaseUrl },
    );
    httpA = new Http(a.baseUrl);
    httpB = new Http(b.baseUrl);

    await putModel(httpA, COGVLM, 0.5, 0.5);
    await putModel(httpA, 'gpt-4o', 2.5, 10);
    await putModel(httpA, DOLLAR, 0, 1_000_000);
    await putModel(httpA, 'retired-model', 1, 1, false);
    secretKey = (await createServiceClient(httpA)).secret_key;

    // Payers: prepaid with and without credit, invoice under, over and without a limit.
    await user('rich', {}, 100);
    await user('broke');
    await user('spent', {}, 1);
    await user('invoiceUnder', { credit_plan: 'invoice', credit_limit: 10 });
    await user('invoiceOver', { credit_plan: 'invoice', credit_limit: 3 });
    await user('invoiceUnlimited', { credit_plan: 'invoice' });
    await user('member', {}, 50);
    await user('outsider', {}, 10);
    await user('ownerA', {}, 100);
    await user('ownerB', {}, 100);
    await user('ownerC');

    await organization('over', 'ownerB', { monthly_budget: 2, time_zone: 'Pacific/Auckland' });
    await organization('under', 'ownerA', { monthly_budget: 10 });
    await organization('noBudget', 'ownerA');
    await organization('atBudget', 'ownerB', { monthly_budget: 2 });
    await organization('managersOnly', 'ownerB', { spend_roles: ['manager'] });
    await organization('brokeOwner', 'ownerC', { monthly_budget: 100 });

    for (const org of ['under', 'over', 'atBudget', 'brokeOwner', 'managersOnly']) {
      await addMember(httpA, orgs[org].id, users.member, 'reader');
    }
    await addMember(httpA, orgs.noBudget.id, users.member, 'manager');
    await addMember(httpA, orgs.under.id, users.rich, 'reader');
    await addMember(httpA, orgs.over.id, users.rich, 'reader');
    await addMember(httpA, orgs.managersOnly.id, users.rich, 'manager');
    // A member no more.
    await addMember(httpA, orgs.under.id, users.outsider, 'reader');
    const removed = await httpA.admin(
      'DELETE',
      `/organizations/${orgs.under.id}/members/${users.outsider}`,
    );
    expect(removed.status).toBe(204);

    await key('rich', 'rich');
    await key('lifetimeUnder', 'rich', { limit_credit_dollar: 5 });
    await key('lifetimeAt', 'rich', { limit_credit_dollar: 2 });
    await key('lifetimeOver', 'rich', { limit_credit_dollar: 1 });
    await key('monthlyUnder', 'rich', { limit_credit_dollar: 5, spend_period: 'monthly' });
    await key('monthlyOver', 'rich', { limit_credit_dollar: 2, spend_period: 'monthly' });
    await key('monthlyLastMonth', 'rich', { limit_credit_dollar: 2, spend_period: 'monthly' });
    await key('allowList', 'rich', { allowed_models: ['gpt-4o'] });
    await key('revoked', 'rich');
    await key('expired', 'rich');
    await key('rotated', 'rich');
    await key('broke', 'broke');
    await key('spent', 'spent');
    await key('invoiceUnder', 'invoiceUnder');
    await key('invoiceOver', 'invoiceOver');
    await key('invoiceUnlimited', 'invoiceUnlimited');
    await key('member', 'member');
    await key('memberCapped', 'member', { limit_credit_dollar: 1 });
    await key('outsider', 'outsider');
    await key('ownerB', 'ownerB');
    await key('ownerC', 'ownerC');
    keys.invented = { key: generateApiKey() };

    const imported = await httpA.admin('POST', '/api-keys/import', {
      user_id: users.rich,
      name: 'old platform',
      key: 'sk-legacy-0123456789abcdef',
    });
    expect(imported.status).toBe(201);
    keys.legacy = { key: 'sk-legacy-0123456789abcdef', id: imported.body.id, userId: users.rich };

    expect((await httpA.admin('DELETE', `/api-keys/${keys.revoked.id}`)).status).toBe(204);
    await a.db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      keys.expired.id,
    ]);
    const rotated = await httpA.admin('POST', `/api-keys/${keys.rotated.id}/rotate`, {
      grace_seconds: 0,
    });
    expect(rotated.status).toBe(200);
    keys.rotatedNew = { key: rotated.body.key, id: keys.rotated.id, userId: users.rich };

    // Spend, logged as usage: caps reached exactly or passed, payers and budgets used up.
    await spend('lifetimeUnder', 1);
    await spend('lifetimeAt', 2);
    await spend('lifetimeOver', 3);
    await spend('monthlyUnder', 1);
    await spend('monthlyOver', 3);
    await spend('monthlyLastMonth', 3);
    // Spent last month: the lifetime total is over the cap, this month's spend is not.
    await a.db.query(
      `UPDATE api_key_monthly_spend SET month = (month - interval '1 month')::date WHERE api_key_id = $1`,
      [keys.monthlyLastMonth.id],
    );
    await spend('spent', 2);
    await spend('invoiceUnder', 4);
    await spend('invoiceOver', 4);
    await spend('member', 3, 'over');
    await spend('member', 1, 'under');
    await spend('member', 2, 'atBudget');
    await spend('memberCapped', 1, 'noBudget');
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('runs instance A with its cache and instance B without', () => {
    expect([a.config.authCache.enabled, b.config.authCache.enabled]).toEqual([true, false]);
  });

  const OK = { status: 200, code: null };
  const cases: Case[] = [
    // Prepaid with credit; models and organization headers.
    { key: 'rich', ...OK },
    { key: 'rich', model: 'gpt-4o', ...OK },
    { key: 'rich', model: 'retired-model', status: 404, code: 'model_not_found' },
    { key: 'rich', model: 'no-such-model', status: 404, code: 'model_not_found' },
    { key: 'rich', org: 'under', ...OK },
    { key: 'rich', org: 'managersOnly', ...OK },
    { key: 'rich', org: 'over', status: 403, code: 'organization_budget_exceeded' },
    { key: 'rich', org: 'noBudget', status: 403, code: 'not_organization_member' },
    { key: 'rich', org: 'unknown', status: 404, code: 'organization_not_found' },
    { key: 'rich', org: 'acme', status: 400, code: 'invalid_organization_id' },
    // Spend caps, lifetime and monthly.
    { key: 'lifetimeUnder', ...OK },
    { key: 'lifetimeAt', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'lifetimeOver', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'lifetimeOver', org: 'under', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'lifetimeOver', org: 'over', status: 403, code: 'organization_budget_exceeded' },
    { key: 'monthlyUnder', ...OK },
    { key: 'monthlyOver', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'monthlyLastMonth', ...OK },
    // Allow-lists.
    { key: 'allowList', model: 'gpt-4o', ...OK },
    { key: 'allowList', status: 403, code: 'model_not_allowed' },
    { key: 'allowList', model: 'retired-model', status: 404, code: 'model_not_found' },
    // Keys that no longer open anything.
    { key: 'revoked', status: 401, code: 'api_key_revoked' },
    { key: 'revoked', org: 'over', status: 401, code: 'api_key_revoked' },
    { key: 'expired', status: 401, code: 'api_key_expired' },
    { key: 'rotated', status: 401, code: 'api_key_revoked' },
    { key: 'rotatedNew', ...OK },
    { key: 'legacy', ...OK },
    { key: 'invented', status: 401, code: 'invalid_api_key' },
    // Prepaid without credit, never or no more.
    { key: 'broke', status: 402, code: 'insufficient_credits' },
    { key: 'broke', model: 'retired-model', status: 404, code: 'model_not_found' },
    { key: 'spent', status: 402, code: 'insufficient_credits' },
    // Invoice.
    { key: 'invoiceUnder', ...OK },
    { key: 'invoiceOver', status: 403, code: 'billing_limit_exceeded' },
    { key: 'invoiceUnlimited', ...OK },
    // A member of organizations over and under budget: billed to itself, or to each.
    { key: 'member', ...OK },
    { key: 'member', org: 'under', ...OK },
    { key: 'member', org: 'noBudget', ...OK },
    { key: 'member', org: 'over', status: 403, code: 'organization_budget_exceeded' },
    { key: 'member', org: 'atBudget', status: 403, code: 'organization_budget_exceeded' },
    { key: 'member', org: 'brokeOwner', status: 402, code: 'insufficient_credits' },
    { key: 'member', org: 'managersOnly', status: 403, code: 'organization_spend_not_allowed' },
    { key: 'memberCapped', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'memberCapped', org: 'under', status: 402, code: 'api_key_limit_exceeded' },
    { key: 'memberCapped', org: 'brokeOwner', status: 402, code: 'insufficient_credits' },
    { key: 'memberCapped', org: 'over', status: 403, code: 'organization_budget_exceeded' },
    // Owners.
    { key: 'ownerB', ...OK },
    { key: 'ownerB', org: 'over', status: 403, code: 'organization_budget_exceeded' },
    { key: 'ownerB', org: 'managersOnly', ...OK },
    { key: 'ownerC', status: 402, code: 'insufficient_credits' },
    { key: 'ownerC', org: 'brokeOwner', status: 402, code: 'insufficient_credits' },
    // Not members, or members no more.
    { key: 'outsider', ...OK },
    { key: 'outsider', org: 'under', status: 403, code: 'not_organization_member' },
    { key: 'outsider', org: 'over', status: 403, code: 'not_organization_member' },
  ];

  const outcome = (response: HttpResponse) => ({
    status: response.status,
    code: (response.body?.code as string | undefined) ?? null,
  });
  const withoutRequestId = (response: HttpResponse) => ({
    status: response.status,
    body: { ...response.body, request_id: undefined },
  });

  it.each(cases.map((c) => ({ ...c, org: c.org ?? '-', model: c.model ?? COGVLM })))(
    'key $key, organization $org, model $model: $status $code on both',
    async ({ key: keyName, org, model, status, code }) => {
      const headers = headersFor(keyName, org);
      const body = { model, messages: [{ role: 'user', content: 'Hello' }] };
      // A answers twice: on a cold cache, then from it.
      const cold = await httpA.post(AUTH, body, headers);
      const warm = await httpA.post(AUTH, body, headers);
      const uncached = await httpB.post(AUTH, body, headers);
      const expected = { status, code };
      expect({ cold: outcome(cold), warm: outcome(warm), uncached: outcome(uncached) }).toEqual({
        cold: expected,
        warm: expected,
        uncached: expected,
      });
      expect(withoutRequestId(warm)).toEqual(withoutRequestId(cold));
      expect(withoutRequestId(uncached)).toEqual(withoutRequestId(cold));
      if (status === 200) {
        expect(uncached.body).toMatchObject({
          api_key_id: keys[keyName].id,
          user_id: keys[keyName].userId,
          organization_id: org === '-' ? null : orgs[org].publicId,
          model,
        });
      }
    },
  );

  it('answers the payer’s remaining credit alike', async () => {
    const remaining = async (keyName: string, org?: string) => {
      const answers = await Promise.all(
        [httpA, httpB].map((http) => http.post(AUTH, { model: COGVLM }, headersFor(keyName, org))),
      );
      return answers.map((answer) => ({ status: answer.status, credit: answer.body.credit }));
    };
    // Each payer's credit less what it was billed for: the rich keys' 13 dollars, the members'
    // usage for the owners (2 for ownerA, 5 for ownerB); invoice limits less this month's spend.
    expect(await remaining('rich')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'prepaid', remaining: 87 } }),
    );
    expect(await remaining('member', 'under')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'prepaid', remaining: 98 } }),
    );
    expect(await remaining('member', 'noBudget')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'prepaid', remaining: 98 } }),
    );
    expect(await remaining('ownerB', 'managersOnly')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'prepaid', remaining: 95 } }),
    );
    expect(await remaining('member')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'prepaid', remaining: 50 } }),
    );
    expect(await remaining('invoiceUnder')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'invoice', remaining: 6 } }),
    );
    expect(await remaining('invoiceUnlimited')).toEqual(
      Array(2).fill({ status: 200, credit: { plan: 'invoice', remaining: null } }),
    );
  });

  describe('log-usage', () => {
    const usageBody = {
      model: COGVLM,
      input_tokens: 100,
      output_tokens: 80,
      temperature: 0.7,
      total_cost: 0.8,
      messages: [{ role: 'user', content: 'Hello' }],
    };

    /** Every column of the events but what tells two events apart. */
    const eventRows = async (ids: string[]) =>
      (
        await a.db.query(
          `SELECT api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id,
             model, input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
             trim_scale(client_input_cost)::text AS client_input_cost,
             trim_scale(client_output_cost)::text AS client_output_cost,
             trim_scale(client_total_cost)::text AS client_total_cost,
             trim_scale(price_million_input)::text AS price_million_input,
             trim_scale(price_million_output)::text AS price_million_output,
             trim_scale(input_cost)::text AS input_cost, trim_scale(output_cost)::text AS output_cost,
             trim_scale(total_cost)::text AS total_cost, messages, messages_bytes
           FROM usage_events WHERE id = ANY ($1) ORDER BY created_at`,
          [ids],
        )
      ).rows;

    const usageCount = async () =>
      (await a.db.query(`SELECT count(*)::int AS n FROM usage_events`)).rows[0].n as number;

    it.each([
      { key: 'rich', org: '-', payer: 'rich', plan: 'prepaid' },
      { key: 'member', org: 'under', payer: 'ownerA', plan: 'prepaid' },
      // Usage that happened is recorded whatever the cap, the credit or the budget says.
      { key: 'lifetimeOver', org: 'over', payer: 'ownerB', plan: 'prepaid' },
      { key: 'spent', org: '-', payer: 'spent', plan: 'prepaid' },
      { key: 'invoiceOver', org: '-', payer: 'invoiceOver', plan: 'invoice' },
    ])(
      'records the same row through either instance: key $key, organization $org',
      async ({ key: keyName, org, payer, plan }) => {
        const before = await a.db.query(`SELECT paid::text FROM user_credits WHERE user_id = $1`, [
          users[payer],
        ]);
        const viaA = await httpA.post(LOG, usageBody, headersFor(keyName, org));
        const viaB = await httpB.post(LOG, usageBody, headersFor(keyName, org));
        expect([viaA.status, viaB.status]).toEqual([201, 201]);
        for (const response of [viaA, viaB]) {
          expect(response.body).toEqual({
            status: 201,
            message: 'Success',
            id: expect.any(String),
            cost: {
              input: 0.00005,
              output: 0.00004,
              total: 0.00009,
              client_total: 0.8,
              mismatch: true,
            },
            credit: { plan, remaining: expect.any(Number) },
          });
        }
        expect(viaB.body.id).not.toBe(viaA.body.id);

        const rows = await eventRows([viaA.body.id, viaB.body.id]);
        expect(rows).toHaveLength(2);
        expect(rows[1]).toEqual(rows[0]);
        expect(rows[0]).toMatchObject({
          api_key_id: keys[keyName].id,
          user_id: keys[keyName].userId,
          payer_user_id: users[payer],
          organization_id: org === '-' ? null : orgs[org].id,
          total_cost: '0.00009',
        });
        if (plan === 'prepaid') {
          // Both charges debited, exactly.
          const { rows: after } = await a.db.query(
            `SELECT trim_scale($2::numeric - paid)::text AS debited FROM user_credits WHERE user_id = $1`,
            [users[payer], before.rows[0].paid],
          );
          expect(after).toEqual([{ debited: '0.00018' }]);
        }
      },
    );

    it('replays on B what A recorded with the same request_id, and writes one row', async () => {
      const body = { ...usageBody, request_id: `both-${randomUUID()}` };
      const count = await usageCount();
      const first = await httpA.post(LOG, body, headersFor('rich'));
      const replay = await httpB.post(LOG, body, headersFor('rich'));
      expect([first.status, replay.status]).toEqual([201, 201]);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await usageCount()).toBe(count + 1);
    });

    it.each([
      { key: 'revoked', org: '-', body: {}, status: 401, code: 'api_key_revoked' },
      { key: 'expired', org: '-', body: {}, status: 401, code: 'api_key_expired' },
      { key: 'invented', org: '-', body: {}, status: 401, code: 'invalid_api_key' },
      { key: 'outsider', org: 'under', body: {}, status: 403, code: 'not_organization_member' },
      { key: 'rich', org: 'unknown', body: {}, status: 404, code: 'organization_not_found' },
      {
        key: 'member',
        org: 'managersOnly',
        body: {},
        status: 403,
        code: 'organization_spend_not_allowed',
      },
      {
        key: 'allowList',
        org: '-',
        body: {},
        status: 403,
        code: 'model_not_allowed',
      },
      {
        key: 'rich',
        org: '-',
        body: { model: 'retired-model' },
        status: 404,
        code: 'model_not_found',
      },
      {
        key: 'rich',
        org: '-',
        body: { input_tokens: '12' },
        status: 400,
        code: 'validation_failed',
      },
    ])(
      'refuses alike and writes nothing: key $key, organization $org, $code',
      async ({ key: keyName, org, body, status, code }) => {
        const count = await usageCount();
        const viaA = await httpA.post(LOG, { ...usageBody, ...body }, headersFor(keyName, org));
        const viaB = await httpB.post(LOG, { ...usageBody, ...body }, headersFor(keyName, org));
        expect({ a: outcome(viaA), b: outcome(viaB) }).toEqual({
          a: { status, code },
          b: { status, code },
        });
        expect(withoutRequestId(viaB)).toEqual(withoutRequestId(viaA));
        expect(await usageCount()).toBe(count);
      },
    );
  });
});
