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
});
