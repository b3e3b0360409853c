import {
  createTenant,
  guardHeaders,
  putModel,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

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

    it('keeps the daily and hourly rollups equal to the raw events', async () => {
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
      const hourly = await testApp.db.query(
        `SELECT sum(requests)::int AS requests, sum(input_tokens)::int AS input, sum(output_tokens)::int AS output,
           trim_scale(sum(cost))::text AS cost
         FROM usage_hourly WHERE api_key_id = $1`,
        [payer.apiKeyId],
      );
      expect(hourly.rows[0]).toEqual(raw.rows[0]);
    });
  });

  describe('reports', () => {
    const payers: Tenant[] = [];
    let organization: { id: string; public_id: string };

    beforeAll(async () => {
      await putModel(http, 'report-a', 0.3, 0.7);
      await putModel(http, 'report-b', 1.1, 2.3);
      for (let i = 0; i < 3; i++) payers.push(await createTenant(http, { credit: 50 }));
      organization = (
        await http.admin('POST', '/organizations', {
          name: 'Reports',
          owner_user_id: payers[0].userId,
        })
      ).body;
      await http.admin('POST', `/organizations/${organization.id}/members`, {
        user_id: payers[1].userId,
        role: 'reader',
      });
      let seed = 7;
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      for (let i = 0; i < 40; i++) {
        const payer = payers[random(3)];
        const viaOrganization = payer !== payers[2] && random(2) === 0;
        const response = await http.post(
          '/api/guard/log-usage',
          {
            model: random(2) ? 'report-a' : 'report-b',
            input_tokens: random(5000),
            output_tokens: random(3000),
          },
          guardHeaders(
            payer,
            viaOrganization ? { 'Swarms-Organization': organization.public_id } : {},
          ),
        );
        expect(response.status).toBe(201);
      }
    });

    const parseCsv = (text: string) => {
      const [header, ...lines] = text.trim().split('\r\n');
      const columns = header.split(',');
      return lines.map((line) =>
        Object.fromEntries(line.split(',').map((value, i) => [columns[i], value])),
      );
    };

    it('gives per-group totals equal to the sums over raw rows, in JSON and CSV', async () => {
      const cases: [string, string, unknown[]][] = [
        [
          'group_by=model',
          `SELECT model AS key, count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, trim_scale(sum(total_cost))::text AS cost FROM usage_events WHERE model LIKE 'report-%' GROUP BY 1`,
          [],
        ],
        [
          'group_by=user&model=report-a',
          `SELECT payer_user_id::text AS key, count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, trim_scale(sum(total_cost))::text AS cost FROM usage_events WHERE model = 'report-a' GROUP BY 1`,
          [],
        ],
        [
          `group_by=api_key&organization_id=PUBLIC`,
          `SELECT api_key_id::text AS key, count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, trim_scale(sum(total_cost))::text AS cost FROM usage_events WHERE organization_id = $1 GROUP BY 1`,
          ['ORG'],
        ],
      ];
      for (const [filter, sql, params] of cases) {
        const query = filter.replace('PUBLIC', organization.public_id);
        const report = await http.admin('GET', `/usage?bucket=month&${query}`);
        expect(report.status).toBe(200);
        const { rows } = await testApp.db.query(
          sql,
          params.map(() => organization.id),
        );
        const groupKey = { model: 'model', user: 'user_id', api_key: 'api_key_id' }[
          query.split('&')[0].split('=')[1]
        ]!;
        const byKey = (list: any[], key: string) =>
          Object.fromEntries(list.map((row) => [row[key], row]));
        const reported = byKey(
          report.body.buckets.filter(
            (b: any) => String(b[groupKey]).startsWith('report-') || groupKey !== 'model',
          ),
          groupKey,
        );
        const expected = byKey(rows, 'key');
        expect(Object.keys(reported).sort()).toEqual(Object.keys(expected).sort());
        for (const key of Object.keys(expected)) {
          expect({
            key,
            requests: reported[key].requests,
            input: reported[key].input_tokens,
            output: reported[key].output_tokens,
          }).toEqual({
            key,
            requests: Number(expected[key].requests),
            input: Number(expected[key].input_tokens),
            output: Number(expected[key].output_tokens),
          });
          expect(String(reported[key].cost)).toBe(String(Number(expected[key].cost)));
        }

        const csv = await http.request('GET', `/api/admin/usage?bucket=month&${query}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/csv' },
        });
        expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
        const parsed = byKey(parseCsv(csv.text), groupKey);
        for (const key of Object.keys(expected)) {
          expect(parsed[key]).toMatchObject({
            requests: String(expected[key].requests),
            cost: expected[key].cost,
          });
        }
      }
    });

    it('buckets by hour from raw events with the same totals', async () => {
      const day = await http.admin('GET', '/usage?bucket=day&model=report-b');
      const hour = await http.admin('GET', '/usage?bucket=hour&model=report-b');
      const sum = (buckets: any[]) => buckets.reduce((total, b) => total + b.requests, 0);
      expect(sum(hour.body.buckets)).toBe(sum(day.body.buckets));
      expect(sum(hour.body.buckets)).toBeGreaterThan(0);
      expect((await http.admin('GET', '/usage?bucket=hour&from=2020-01-01T00:00:00Z')).status).toBe(
        400,
      );
      expect((await http.admin('GET', '/usage?group_by=colour')).status).toBe(400);
      expect((await http.admin('GET', '/usage?bucket=week')).status).toBe(400);
    });

    it('pages through raw events, also as CSV', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await http.admin(
          'GET',
          `/usage/events?model=report-a&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((item: { id: string }) => item.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      const { rows } = await testApp.db.query(
        `SELECT id FROM usage_events WHERE model = 'report-a' ORDER BY created_at, id`,
      );
      expect(seen).toEqual(rows.map((row: { id: string }) => row.id));
      const csv = await http.request('GET', '/api/admin/usage/events?model=report-a&limit=1000', {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/csv' },
      });
      expect(parseCsv(csv.text).map((row) => row.id)).toEqual(seen);
    });

    it("answers a user's spend this month", async () => {
      const spend = await http.admin('GET', `/users/${payers[2].userId}/spend`);
      expect(spend.status).toBe(200);
      const { rows } = await testApp.db.query(
        `SELECT trim_scale(sum(total_cost))::text AS spent FROM usage_events WHERE payer_user_id = $1`,
        [payers[2].userId],
      );
      expect(String(spend.body.spent_this_month)).toBe(String(Number(rows[0].spent)));
      expect(spend.body).toMatchObject({ plan: 'prepaid', user_id: payers[2].userId });
      expect(spend.body.remaining).toBeCloseTo(50 - Number(rows[0].spent), 10);
      expect(
        (await http.admin('GET', `/users/00000000-0000-4000-8000-000000000000/spend`)).status,
      ).toBe(404);
    });
  });
});
