import {
  createTenant,
  guardHeaders,
  putModel,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('metering', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http, { credit: 100 });
  });
  afterAll(() => testApp.close());

  describe('price history', () => {
    it('keeps every price version, and earlier usage keeps the prices it was charged', async () => {
      await putModel(http, 'versioned', 1, 2);
      const headers = guardHeaders(tenant);
      const body = seedUsageBody({ model: 'versioned', input_tokens: 1000, output_tokens: 1000 });
      const first = await http.post('/api/guard/log-usage', body, headers);
      expect(first.body.cost).toMatchObject({ input: 0.001, output: 0.002, total: 0.003 });
      const totalBefore = await testApp.db.query(
        `SELECT trim_scale(sum(total_cost))::text AS total FROM usage_events WHERE model = 'versioned'`,
      );

      await putModel(http, 'versioned', 3, 4);
      await putModel(http, 'versioned', 3, 4, false); // no price change: no new version
      const second = await http.post('/api/guard/log-usage', body, headers);
      expect(second.status).toBe(404); // disabled
      await putModel(http, 'versioned', 3, 4, true);
      const third = await http.post('/api/guard/log-usage', body, headers);
      expect(third.body.cost).toMatchObject({ input: 0.003, output: 0.004, total: 0.007 });

      const earlier = await testApp.db.query(
        `SELECT trim_scale(price_million_input)::text AS pin, trim_scale(total_cost)::text AS total
         FROM usage_events WHERE id = $1`,
        [first.body.id],
      );
      expect(earlier.rows[0]).toEqual({ pin: '1', total: '0.003' });
      const totalAfter = await testApp.db.query(
        `SELECT trim_scale(sum(total_cost))::text AS total FROM usage_events
         WHERE model = 'versioned' AND created_at <= (SELECT created_at FROM usage_events WHERE id = $1)`,
        [first.body.id],
      );
      expect(totalAfter.rows[0].total).toBe(totalBefore.rows[0].total);

      const prices = await http.admin('GET', '/models/versioned/prices');
      expect(prices.status).toBe(200);
      expect(prices.body.map((p: any) => [p.price_million_input, p.price_million_output])).toEqual([
        [3, 4],
        [1, 2],
      ]);
      expect(prices.body[0].effective_until).toBeNull();
      expect(prices.body[1].effective_until).toBe(prices.body[0].effective_from);
      expect((await http.admin('GET', '/models/no-such-model/prices')).status).toBe(404);
    });
  });

  describe('message storage', () => {
    const messages = [{ role: 'user', content: 'é'.repeat(300) + ' 🚀 end' }];

    async function storedWith(env: Record<string, string>) {
      const app = await startTestApp(env);
      try {
        const appHttp = new Http(app.baseUrl);
        const payer = await createTenant(appHttp);
        const response = await appHttp.post(
          '/api/guard/log-usage',
          seedUsageBody({ messages }),
          guardHeaders(payer),
        );
        expect(response.status).toBe(201);
        const { rows } = await app.db.query(
          'SELECT messages, messages_bytes FROM usage_events WHERE id = $1',
          [response.body.id],
        );
        return rows[0];
      } finally {
        await app.close();
      }
    }

    const size = Buffer.byteLength(JSON.stringify(messages));

    it('stores messages whole when they fit (full)', async () => {
      expect(await storedWith({ MESSAGE_STORAGE: 'full' })).toEqual({
        messages,
        messages_bytes: size,
      });
    });

    it('keeps only their size when they do not fit (full)', async () => {
      expect(await storedWith({ MESSAGE_STORAGE: 'full', MESSAGES_MAX_BYTES: '100' })).toEqual({
        messages: null,
        messages_bytes: size,
      });
    });

    it('keeps the start of their JSON within the cap (truncate)', async () => {
      const stored = await storedWith({ MESSAGE_STORAGE: 'truncate', MESSAGES_MAX_BYTES: '200' });
      expect(stored.messages_bytes).toBe(size);
      expect(stored.messages).toMatchObject({ truncated: true, bytes: size });
      expect(JSON.stringify(messages).startsWith(stored.messages.prefix)).toBe(true);
      expect(stored.messages.prefix.length).toBeGreaterThan(50);
      expect(Buffer.byteLength(JSON.stringify(stored.messages))).toBeLessThanOrEqual(200);
    });

    it('stores none of them (none)', async () => {
      expect(await storedWith({ MESSAGE_STORAGE: 'none' })).toEqual({
        messages: null,
        messages_bytes: size,
      });
    });
  });

  describe('the partitioned ledger', () => {
    it('has the partitions of this month and the next ones after start', async () => {
      const { rows } = await testApp.db.query(
        `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'usage_events'::regclass ORDER BY c.relname`,
      );
      const names = rows.map((row: { relname: string }) => row.relname);
      const month = (offset: number) => {
        const date = new Date();
        const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1));
        return `usage_events_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      };
      expect(names).toEqual(
        expect.arrayContaining([month(0), month(1), month(2), month(3), 'usage_events_default']),
      );
    });

    it('takes an insert on the first second of next month in that month’s partition', async () => {
      const [row] = (
        await testApp.db.query(
          `INSERT INTO usage_events (api_key_id, user_id, payer_user_id, service_client_id, model_id, model,
             input_tokens, output_tokens, price_million_input, price_million_output,
             input_cost, output_cost, total_cost, created_at)
           SELECT k.id, k.user_id, k.user_id, s.id, m.id, m.unique_name, 1, 1, 0, 0, 0, 0, 0,
             date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 month'
           FROM api_keys k, service_clients s, models m
           WHERE k.id = $1 AND s.id = $2 AND m.unique_name = 'cogvlm-chat-17b'
           RETURNING tableoid::regclass::text AS partition, created_at`,
          [tenant.apiKeyId, tenant.serviceClientId],
        )
      ).rows;
      expect(row.partition).toMatch(/^usage_events_y\d{4}m\d{2}$/);
      expect(row.created_at.getUTCDate()).toBe(1);
      expect(row.created_at.getUTCHours()).toBe(0);
      await testApp.db.query('DELETE FROM usage_events WHERE created_at = $1', [row.created_at]);
    });

    it('keeps the daily rollups equal to the raw events', async () => {
      const payer = await createTenant(http, { credit: 10 });
      for (let i = 0; i < 5; i++) {
        const body = seedUsageBody({ input_tokens: 100 + i, output_tokens: 7 * i });
        expect((await http.post('/api/guard/log-usage', body, guardHeaders(payer))).status).toBe(
          201,
        );
      }
      const raw = await testApp.db.query(
        `SELECT count(*)::int AS requests, sum(input_tokens)::int AS input, sum(output_tokens)::int AS output,
           trim_scale(sum(total_cost))::text AS cost
         FROM usage_events WHERE api_key_id = $1`,
        [payer.apiKeyId],
      );
      const rolled = await testApp.db.query(
        `SELECT sum(requests)::int AS requests, sum(input_tokens)::int AS input, sum(output_tokens)::int AS output,
           trim_scale(sum(cost))::text AS cost
         FROM usage_daily WHERE api_key_id = $1`,
        [payer.apiKeyId],
      );
      expect(rolled.rows[0]).toEqual(raw.rows[0]);
      expect(raw.rows[0].requests).toBe(5);
    });
  });
});
