import {
  createOrganization,
  createTenant,
  guardHeaders,
  putModel,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const BUCKETS = ['day', 'month', 'hour'] as const;
const GROUPINGS = ['', 'model'] as const;

/** A report's rows as exact text, keyed by bucket start (and model). */
type Rows = Record<
  string,
  { requests: string; input_tokens: string; output_tokens: string; cost: string }
>;

describe('whole-platform reports', () => {
  let testApp: TestApp;
  let http: Http;
  const payers: Tenant[] = [];
  const organizations: { id: string; public_id: string }[] = [];
  let recorded = 0;

  /** Usage by several payers, through their own accounts and two organizations, on three models. */
  async function logRound(seed: number, calls: number): Promise<void> {
    let state = seed;
    const random = (n: number) => (state = (state * 1103515245 + 12345) % 2147483648) % n;
    // Who may bill to which organization: payer 1 owns the first, payer 3 the second.
    const memberOf = [[], [0], [0], [1], [0, 1]];
    for (let i = 0; i < calls; i++) {
      const p = random(payers.length);
      const orgs = memberOf[p];
      const organization = orgs.length > 0 && random(3) > 0 ? orgs[random(orgs.length)] : null;
      const response = await http.post(
        '/api/guard/log-usage',
        {
          model: ['platform-a', 'platform-b', 'platform-c'][random(3)],
          input_tokens: 1 + random(9000),
          output_tokens: random(4000),
        },
        guardHeaders(
          payers[p],
          organization === null
            ? {}
            : { 'Swarms-Organization': organizations[organization].public_id },
        ),
      );
      expect(response.status).toBe(201);
      recorded++;
    }
  }

  /**
   * Moves everything logged so far (events and every rollup alike) back by `hours`, so that
   * the reports span several hours, days and months. Only rows newer than `newerThanHours`
   * move: earlier rounds stay where they are.
   */
  async function age(hours: number, newerThanHours: number): Promise<void> {
    const shift = `interval '${hours} hours'`;
    const since = `now() - interval '${newerThanHours} hours'`;
    const days = hours / 24;
    await testApp.db.query(
      `UPDATE usage_events SET created_at = created_at - ${shift} WHERE created_at > ${since}`,
    );
    for (const table of ['usage_hourly', 'usage_hourly_platform']) {
      await testApp.db.query(
        `UPDATE ${table} SET hour = hour - ${shift} WHERE hour >= date_trunc('hour', ${since})`,
      );
    }
    for (const table of ['usage_daily', 'usage_daily_platform']) {
      await testApp.db.query(
        `UPDATE ${table} SET day = day - ${days} WHERE day >= ((${since}) AT TIME ZONE 'UTC')::date`,
      );
    }
  }

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
    await putModel(http, 'platform-a', 0.123456, 1.654321);
    await putModel(http, 'platform-b', 2.5, 10);
    await putModel(http, 'platform-c', 0.000001, 0.3);
    for (let i = 0; i < 5; i++) payers.push(await createTenant(http, { credit: 100 }));
    organizations.push(await createOrganization(http, payers[1].userId, 'Platform one'));
    organizations.push(await createOrganization(http, payers[3].userId, 'Platform two'));
    for (const [organization, payer] of [
      [0, 2],
      [0, 4],
      [1, 4],
    ]) {
      const member = await http.admin(
        'POST',
        `/organizations/${organizations[organization].id}/members`,
        {
          user_id: payers[payer].userId,
          role: 'reader',
        },
      );
      expect(member.status).toBe(201);
    }
    // Three rounds: 40 days ago (another month), a day ago, and now.
    await logRound(11, 20);
    await age(40 * 24, 1);
    await logRound(23, 20);
    await age(24, 1);
    await logRound(37, 20);
  });
  afterAll(() => testApp.close());

  const period = (bucket: (typeof BUCKETS)[number]) => {
    const to = new Date(Date.now() + HOUR_MS);
    const from = new Date(to.getTime() - (bucket === 'hour' ? 3 : 60) * DAY_MS);
    return { from: from.toISOString(), to: to.toISOString() };
  };

  /**
   * A report as CSV, whose numbers are the exact decimal text of the answer, keyed by bucket
   * start and group values (`keyOf` may leave groups out; rows are then kept apart by `only`).
   */
  async function report(
    query: Record<string, string>,
    only: (row: Record<string, string>) => boolean = () => true,
    keyOf = (row: Record<string, string>) => [row.start, row.model].filter(Boolean).join(' '),
  ): Promise<Rows> {
    const response = await http.request('GET', `/api/admin/usage?${new URLSearchParams(query)}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/csv' },
    });
    expect(response.status).toBe(200);
    const [header, ...lines] = response.text.trim().split('\r\n');
    const columns = header.split(',');
    const rows: Rows = {};
    for (const line of lines) {
      const row = Object.fromEntries(line.split(',').map((value, i) => [columns[i], value]));
      if (!only(row)) continue;
      const key = keyOf(row);
      expect(rows[key]).toBeUndefined();
      rows[key] = {
        requests: row.requests,
        input_tokens: row.input_tokens,
        output_tokens: row.output_tokens,
        cost: row.cost,
      };
    }
    return rows;
  }

  /** Reports added up per key, in Postgres numeric: no float touches the amounts. */
  async function sum(
    reports: Rows[],
    keyOf: (key: string) => string = (key) => key,
  ): Promise<Rows> {
    const entries = reports.flatMap((rows) =>
      Object.entries(rows).map(([key, row]) => ({ ...row, key: keyOf(key) })),
    );
    const { rows } = await testApp.db.query(
      `SELECT k, sum(r::numeric)::text AS requests, sum(i::numeric)::text AS input_tokens,
         sum(o::numeric)::text AS output_tokens, trim_scale(sum(c::numeric))::text AS cost
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, r, i, o, c)
       GROUP BY k`,
      [
        entries.map((e) => e.key),
        entries.map((e) => e.requests),
        entries.map((e) => e.input_tokens),
        entries.map((e) => e.output_tokens),
        entries.map((e) => e.cost),
      ],
    );
    return Object.fromEntries(rows.map(({ k, ...row }) => [k, row])) as Rows;
  }

  const cases = BUCKETS.flatMap((bucket) => GROUPINGS.map((group) => ({ bucket, group })));

  it.each(cases)(
    'answers $bucket buckets (group_by=$group) equal to the sum of the per-payer reports',
    async ({ bucket, group }) => {
      const query = { bucket, ...period(bucket), ...(group ? { group_by: group } : {}) };
      const platform = await report(query);
      const perPayer = await Promise.all(
        payers.map((payer) => report({ ...query, user_id: payer.userId })),
      );
      // Three rounds: two months, three days; the hour window holds the last two rounds.
      expect(Object.keys(platform).length).toBeGreaterThan(bucket === 'day' ? 2 : 1);
      expect(platform).toEqual(await sum(perPayer));
    },
  );

  it.each(cases)(
    'answers $bucket buckets (group_by=$group) equal to the sum over organizations and payers',
    async ({ bucket, group }) => {
      const query = { bucket, ...period(bucket), ...(group ? { group_by: group } : {}) };
      const platform = await report(query);
      // Grouped by organization and payer: read from the payer rollups, one row per group.
      const grouped = await http.admin(
        'GET',
        `/usage?${new URLSearchParams({ ...query, group_by: ['organization', 'user', group].filter(Boolean).join(',') })}`,
      );
      expect(grouped.status).toBe(200);
      const organizationsSeen = new Set(grouped.body.buckets.map((b: any) => b.organization_id));
      expect(organizationsSeen).toEqual(new Set([null, organizations[0].id, organizations[1].id]));
      // The per-organization reports, and the usage billed to no organization, add up to it.
      const perOrganization = await Promise.all(
        organizations.map((organization) =>
          report({ ...query, organization_id: organization.public_id }),
        ),
      );
      const personal = await report(
        { ...query, group_by: ['organization', group].filter(Boolean).join(',') },
        (row) => row.organization_id === '',
      );
      expect(Object.keys(personal).length).toBeGreaterThan(0);
      expect(platform).toEqual(await sum([...perOrganization, personal]));
    },
  );

  it.each(cases)(
    'answers $bucket buckets (group_by=$group) whose totals are the sums of the usage events',
    async ({ bucket, group }) => {
      const window = period(bucket);
      const platform = await report({ bucket, ...window, ...(group ? { group_by: group } : {}) });
      const totals = await sum([platform], () => 'total');
      const { rows } = await testApp.db.query(
        `SELECT count(*)::text AS requests, sum(input_tokens)::text AS input_tokens,
           sum(output_tokens)::text AS output_tokens, trim_scale(sum(total_cost))::text AS cost
         FROM usage_events WHERE created_at >= $1 AND created_at < $2`,
        [window.from, window.to],
      );
      expect(totals).toEqual({ total: rows[0] });
      expect(rows[0].requests).toBe(String(bucket === 'hour' ? 40 : recorded));
    },
  );

  it('keeps the platform rollups equal to the events per day, hour and model', async () => {
    const compare = async (table: string, period: string) => {
      const { rows } = await testApp.db.query(
        `SELECT count(*)::int AS differences FROM (
           (SELECT ${period} AS period, model_id, count(*) AS requests, sum(input_tokens) AS input_tokens,
              sum(output_tokens) AS output_tokens, sum(total_cost) AS cost
            FROM usage_events GROUP BY 1, 2
            EXCEPT SELECT * FROM ${table})
           UNION ALL
           (SELECT * FROM ${table}
            EXCEPT SELECT ${period}, model_id, count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
            FROM usage_events GROUP BY 1, 2)
         ) d`,
      );
      const count = await testApp.db.query(`SELECT count(*)::int AS n FROM ${table}`);
      return { differences: rows[0].differences, rows: count.rows[0].n > 0 };
    };
    expect(await compare('usage_daily_platform', `(created_at AT TIME ZONE 'UTC')::date`)).toEqual({
      differences: 0,
      rows: true,
    });
    expect(await compare('usage_hourly_platform', `date_trunc('hour', created_at)`)).toEqual({
      differences: 0,
      rows: true,
    });
  });

  it.each([
    { table: 'usage_daily_platform', bucket: 'month' as const },
    { table: 'usage_hourly_platform', bucket: 'hour' as const },
  ])(
    'reads $bucket reports of the whole platform from $table, narrower ones from the payer rollups',
    async ({ table, bucket }) => {
      const query = { bucket, ...period(bucket) };
      const totalRequests = (rows: Rows) =>
        Object.values(rows).reduce((total, row) => total + Number(row.requests), 0);
      const byPayerKey = (row: Record<string, string>) => `${row.start} ${row.user_id}`;
      const before = await report(query);
      const byPayerBefore = await report({ ...query, group_by: 'user' }, undefined, byPayerKey);
      // A marker only the platform rollup carries, on every row; removed before the test ends.
      const marked = await testApp.db.query(
        `UPDATE ${table} SET requests = requests + 1000000
         WHERE model_id IN (SELECT id FROM models WHERE unique_name LIKE 'platform-%')`,
      );
      try {
        const after = await report(query);
        const byModel = await report({ ...query, group_by: 'model' });
        const byPayer = await report({ ...query, group_by: 'user' }, undefined, byPayerKey);
        expect(Object.keys(after)).toEqual(Object.keys(before));
        // Rows outside the window carry the marker too; those inside all add to the answer.
        expect(totalRequests(after) - totalRequests(before)).toBeGreaterThanOrEqual(1_000_000);
        expect((totalRequests(after) - totalRequests(before)) % 1_000_000).toBe(0);
        expect(Object.values(byModel).every((row) => Number(row.requests) > 1_000_000)).toBe(true);
        expect(byPayer).toEqual(byPayerBefore);
      } finally {
        await testApp.db.query(
          `UPDATE ${table} SET requests = requests - 1000000
           WHERE model_id IN (SELECT id FROM models WHERE unique_name LIKE 'platform-%')`,
        );
      }
      expect(marked.rowCount).toBeGreaterThan(0);
      expect(await report(query)).toEqual(before);
    },
  );
});
