import pg from 'pg';
import { DecisionRecorder } from '../src/decisions/decision-recorder.service.js';
import { createTestDatabase } from './support/database.js';
import {
  createTenant,
  guardHeaders,
  putModel,
  seedUsageBody,
  type Tenant,
} from './support/factories.js';
import { Http, type HttpResponse } from './support/http.js';
import { freePort, spawnService } from './support/service-process.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG_USAGE = '/api/guard/log-usage';
const FLUSH_MS = 100;
/** Long enough that no timer flush happens while a test runs. */
const NEVER_MS = 3_600_000;
/** A well-formed key with a wrong checksum: refused before any lookup. */
const UNKNOWN_KEY = `sk-${'0'.repeat(64)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keyOf = (route: string, status: number, decision: string) => `${route} ${status} ${decision}`;

/** Counts per "route status decision", summed over buckets (a test may cross an hour). */
type Counts = Record<string, number>;

async function storedCounts(db: pg.Pool): Promise<Counts> {
  const { rows } = await db.query<{ route: string; status: number; decision: string; n: string }>(
    `SELECT route, status, decision, sum(count)::text AS n
     FROM guard_decisions_hourly GROUP BY 1, 2, 3`,
  );
  return Object.fromEntries(
    rows.map((row) => [keyOf(row.route, row.status, row.decision), Number(row.n)]),
  );
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(FLUSH_MS / 2);
  }
}

/** Equal counts, whatever the order of their keys. */
const same = (a: Counts, b: Counts) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

const added = (before: Counts, after: Counts): Counts =>
  Object.fromEntries(
    Object.entries(after)
      .map(([key, n]) => [key, n - (before[key] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );

function adminGet(http: Http, path: string, headers: Record<string, string> = {}) {
  return http.request('GET', `/api/admin${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
  });
}

interface Bucket {
  start: string;
  route: string;
  status: number;
  decision: string;
  count: number;
}

function summed(buckets: Bucket[]): Counts {
  const counts: Counts = {};
  for (const b of buckets) {
    const key = keyOf(b.route, b.status, b.decision);
    counts[key] = (counts[key] ?? 0) + b.count;
  }
  return counts;
}

function sortedAsContract(buckets: Bucket[]): Bucket[] {
  const byte = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...buckets].sort(
    (a, b) =>
      byte(a.start, b.start) ||
      byte(a.route, b.route) ||
      a.status - b.status ||
      byte(a.decision, b.decision),
  );
}

/** Starts an app whose decision counts are written every `flushMs`. */
function startWithFlush(flushMs: number, databaseUrl?: string): Promise<TestApp> {
  return startTestApp({ DECISION_FLUSH_MS: String(flushMs) }, databaseUrl ? { databaseUrl } : {});
}

describe(DecisionRecorder.name, () => {
  let testApp: TestApp;
  let http: Http;
  let granted: Tenant;

  beforeAll(async () => {
    testApp = await startWithFlush(FLUSH_MS);
    http = new Http(testApp.baseUrl);
    granted = await createTenant(http, { credit: 100 });
  });
  afterAll(() => testApp.close());

  const auth = (tenant: Tenant, headers: Record<string, string> = {}) =>
    http.post(AUTH, { model: tenant.model }, { ...guardHeaders(tenant), ...headers });

  describe('counting real guard calls', () => {
    const expected: Counts = {};
    const answered = async (call: Promise<HttpResponse>, status: number, decision: string) => {
      const response = await call;
      expect({ status: response.status, code: response.body?.code }).toEqual({
        status,
        code: decision === 'ok' ? undefined : decision,
      });
      const key = keyOf(AUTH, status, decision);
      expected[key] = (expected[key] ?? 0) + 1;
    };

    beforeAll(async () => {
      const broke = await createTenant(http, { credit: 0 });
      await putModel(http, 'other-model');
      const restricted = await createTenant(http, { key: { allowed_models: ['other-model'] } });
      const limited = await createTenant(http, { key: { rpm_limit: 1 } });

      for (let i = 0; i < 3; i++) await answered(auth(granted), 200, 'ok');
      await answered(auth(granted, { Authorization: UNKNOWN_KEY }), 401, 'invalid_api_key');
      await answered(auth(granted, { Authorization: UNKNOWN_KEY }), 401, 'invalid_api_key');
      await answered(http.post(AUTH, { model: granted.model }), 401, 'secret_key_missing');
      await answered(http.post(AUTH, {}, guardHeaders(granted)), 400, 'model_missing');
      await answered(auth(broke), 402, 'insufficient_credits');
      await answered(auth(restricted), 403, 'model_not_allowed');
      await answered(auth(limited), 200, 'ok');
      await answered(auth(limited), 429, 'rate_limited');
      // A body that is not JSON is the guard's `model_missing` too.
      await answered(
        http.request('POST', AUTH, { raw: '{"model":', headers: guardHeaders(granted) }),
        400,
        'model_missing',
      );
      // Answered before the guard decides (the body is never read): not counted.
      const oversized = await http.request('POST', AUTH, {
        raw: JSON.stringify({
          model: granted.model,
          pad: 'x'.repeat(testApp.config.bodyLimitBytes),
        }),
        headers: guardHeaders(granted),
      });
      expect(oversized.status).toBe(413);
      const usage = await http.post(LOG_USAGE, seedUsageBody(), guardHeaders(granted));
      expect(usage.status).toBe(201);
      expected[keyOf(LOG_USAGE, 201, 'ok')] = 1;
    });

    it('adds every answered call to the hourly rows on the flush timer', async () => {
      const stored = await eventually(
        () => storedCounts(testApp.db),
        (counts) => same(counts, expected),
      );
      expect(stored).toEqual(expected);
      // Further flushes with nothing new add nothing.
      await sleep(FLUSH_MS * 3);
      expect(await storedCounts(testApp.db)).toEqual(expected);

      const { rows } = await testApp.db.query<{ aligned: boolean }>(
        `SELECT hour = date_trunc('hour', hour, 'UTC') AND hour > now() - interval '2 hours'
           AS aligned
         FROM guard_decisions_hourly`,
      );
      expect(rows.every((row) => row.aligned)).toBe(true);
    });

    it('reports them per hour (by default over the last 24 hours), sorted', async () => {
      const before = Date.now();
      const response = await adminGet(http, '/decisions');
      expect(response.status).toBe(200);
      const { from, to, bucket, buckets } = response.body as {
        from: string;
        to: string;
        bucket: string;
        buckets: Bucket[];
      };
      expect(bucket).toBe('hour');
      expect(Date.parse(to)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(to) - Date.parse(from)).toBe(24 * 3_600_000);
      expect(summed(buckets)).toEqual(expected);
      expect(buckets).toEqual(sortedAsContract(buckets));
      for (const b of buckets) {
        expect(b.start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
        expect(Object.keys(b)).toEqual(['start', 'route', 'status', 'decision', 'count']);
      }
      const ok = buckets.filter((b) => b.route === AUTH && b.decision === 'ok');
      expect(ok.every((b) => b.status === 200)).toBe(true);
    });

    it('reports them per UTC day, summed over the hours', async () => {
      const response = await adminGet(http, '/decisions?bucket=day');
      expect(response.status).toBe(200);
      expect(response.body.bucket).toBe('day');
      const buckets = response.body.buckets as Bucket[];
      expect(summed(buckets)).toEqual(expected);
      for (const b of buckets) expect(b.start).toMatch(/T00:00:00Z$/);
      // Within one day, one bucket per combination.
      const today = new Date().toISOString().slice(0, 10);
      const todays = buckets.filter((b) => b.start.startsWith(today));
      expect(new Set(todays.map((b) => keyOf(b.route, b.status, b.decision))).size).toBe(
        todays.length,
      );
    });

    it('answers nothing for a period with no calls, and only whole buckets of the period', async () => {
      const empty = await adminGet(
        http,
        '/decisions?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z',
      );
      expect(empty.status).toBe(200);
      expect(empty.body).toEqual({
        from: '2020-01-01T00:00:00Z',
        to: '2020-01-02T00:00:00Z',
        bucket: 'hour',
        buckets: [],
      });
      const { rows } = await testApp.db.query<{ hour: Date }>(
        'SELECT max(hour) AS hour FROM guard_decisions_hourly',
      );
      const latest = rows[0].hour.getTime();
      // `to` at the start of the latest hour excludes it; one microsecond later includes it.
      const upTo = (to: number) =>
        adminGet(
          http,
          `/decisions?from=${new Date(latest - 3_600_000).toISOString()}&to=${new Date(to).toISOString()}`,
        );
      const latestStart = new Date(latest).toISOString().replace('.000Z', 'Z');
      const excluded = await upTo(latest);
      expect((excluded.body.buckets as Bucket[]).some((b) => b.start === latestStart)).toBe(false);
      const included = await upTo(latest + 1);
      expect((included.body.buckets as Bucket[]).some((b) => b.start === latestStart)).toBe(true);
    });

    it('answers CSV with the same columns and rows', async () => {
      const json = await adminGet(http, '/decisions?bucket=day');
      const csv = await adminGet(http, '/decisions?bucket=day', { accept: 'text/csv' });
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      const buckets = json.body.buckets as Bucket[];
      expect(csv.text).toBe(
        [
          'start,route,status,decision,count',
          ...buckets.map((b) => [b.start, b.route, b.status, b.decision, b.count].join(',')),
        ].join('\r\n') + '\r\n',
      );
    });
  });

  it('refuses bad query input with 400 in the contract shape, and writes nothing', async () => {
    const before = await testApp.db.query(
      `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM guard_decisions_hourly t`,
    );
    const month = 31 * 86_400_000;
    const monthAfter = (ms: number) =>
      new Date(Date.parse('2026-01-01T00:00:00Z') + month + ms).toISOString();
    const bad = [
      '?bucket=week',
      '?bucket=month',
      '?from=yesterday',
      '?to=2026-02-30T00:00:00Z',
      '?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z',
      '?from=2026-12-01T00:00:00Z&to=2026-12-01T00:00:00Z',
      `?from=2026-01-01T00:00:00Z&to=${monthAfter(1)}`,
      // 400 days and a second.
      '?bucket=day&from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:01Z',
      '?limit=10',
      '?from=2026-12-01T00:00:00Z&from=2026-12-02T00:00:00Z',
    ];
    for (const query of bad) {
      const response = await adminGet(http, `/decisions${query}`);
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expect(response.body).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(response.body.errors.length).toBeGreaterThan(0);
      expect(typeof response.body.message).toBe('string');
    }
    // At the limits, accepted.
    const hours = await adminGet(http, `/decisions?from=2026-01-01T00:00:00Z&to=${monthAfter(0)}`);
    expect(hours.status).toBe(200);
    const days = await adminGet(
      http,
      '/decisions?bucket=day&from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:00Z',
    );
    expect(days.status).toBe(200);

    expect((await http.request('GET', '/api/admin/decisions')).status).toBe(401);
    const wrong = await http.request('GET', '/api/admin/decisions', {
      headers: { authorization: 'Bearer not-the-admin-token-0123456789' },
    });
    expect(wrong.status).toBe(401);

    await sleep(FLUSH_MS * 3);
    expect(testApp.app.get(DecisionRecorder).pending).toBe(0);
    const after = await testApp.db.query(
      `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM guard_decisions_hourly t`,
    );
    expect(after.rows).toEqual(before.rows);
  });

  it('adds up the counts of two instances on one database', async () => {
    const other = await startWithFlush(FLUSH_MS, testApp.databaseUrl);
    try {
      const otherHttp = new Http(other.baseUrl);
      const before = await storedCounts(testApp.db);
      const calls = [
        ...Array.from({ length: 3 }, () => auth(granted)),
        ...Array.from({ length: 2 }, () =>
          otherHttp.post(AUTH, { model: granted.model }, guardHeaders(granted)),
        ),
        otherHttp.post(
          AUTH,
          { model: granted.model },
          { ...guardHeaders(granted), Authorization: UNKNOWN_KEY },
        ),
      ];
      const statuses = (await Promise.all(calls)).map((r) => r.status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 401]);
      const want = { [keyOf(AUTH, 200, 'ok')]: 5, [keyOf(AUTH, 401, 'invalid_api_key')]: 1 };
      const after = await eventually(
        () => storedCounts(testApp.db),
        (counts) => same(added(before, counts), want),
      );
      expect(added(before, after)).toEqual(want);
      await sleep(FLUSH_MS * 3);
      expect(added(before, await storedCounts(testApp.db))).toEqual(want);
    } finally {
      await other.close();
    }
  });

  it('keeps the counts of a failed write for the next one', async () => {
    const before = await storedCounts(testApp.db);
    const recorder = testApp.app.get(DecisionRecorder);
    // Every write fails while the table is away.
    await testApp.db.query('ALTER TABLE guard_decisions_hourly RENAME TO guard_decisions_away');
    try {
      for (let i = 0; i < 2; i++) expect((await auth(granted)).status).toBe(200);
      await sleep(FLUSH_MS * 4);
      expect(recorder.pending).toBe(1);
      expect(await recorder.flush()).toBe(false);
      expect(recorder.pending).toBe(1);
    } finally {
      await testApp.db.query('ALTER TABLE guard_decisions_away RENAME TO guard_decisions_hourly');
    }
    const want = { [keyOf(AUTH, 200, 'ok')]: 2 };
    const after = await eventually(
      () => storedCounts(testApp.db),
      (counts) => same(added(before, counts), want),
    );
    expect(added(before, after)).toEqual(want);
    expect(recorder.pending).toBe(0);
  });

  it('writes what is still counted when the application shuts down', async () => {
    const late = await startWithFlush(NEVER_MS, testApp.databaseUrl);
    const lateHttp = new Http(late.baseUrl);
    const key = keyOf(AUTH, 401, 'api_key_missing');
    for (let i = 0; i < 2; i++) {
      const response = await lateHttp.post(
        AUTH,
        { model: granted.model },
        { SecretKey: granted.secretKey },
      );
      expect(response.body.code).toBe('api_key_missing');
    }
    // Not visible until written.
    await sleep(FLUSH_MS * 3);
    expect((await storedCounts(testApp.db))[key]).toBeUndefined();
    expect(late.app.get(DecisionRecorder).pending).toBe(1);
    await late.close();
    expect((await storedCounts(testApp.db))[key]).toBe(2);
  });
});

describe('the built service and its decision counts', () => {
  it('writes them on SIGTERM, and refuses to start with a bad DECISION_FLUSH_MS', async () => {
    const database = await createTestDatabase();
    const db = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const env = { DATABASE_URL: database.url, ADMIN_TOKEN, LOG_LEVEL: 'warn' };
      const refused = spawnService(await freePort(), { ...env, DECISION_FLUSH_MS: '5s' });
      const exit = await refused.exited;
      expect(exit.code).toBe(1);
      expect(refused.output()).toContain(
        'DECISION_FLUSH_MS must be an integer between 10 and 3600000 (got "5s")',
      );

      const service = spawnService(await freePort(), {
        ...env,
        DECISION_FLUSH_MS: String(NEVER_MS),
      });
      try {
        await service.ready();
        const serviceHttp = new Http(service.baseUrl);
        for (let i = 0; i < 3; i++) {
          const response = await serviceHttp.post(AUTH, { model: 'any' });
          expect(response.body.code).toBe('secret_key_missing');
        }
        const { rows: none } = await db.query(
          'SELECT count(*)::int AS n FROM guard_decisions_hourly',
        );
        expect(none[0].n).toBe(0);
        service.signal('SIGTERM');
        expect((await service.exited).code).toBe(0);
      } finally {
        await service.stop();
      }
      const { rows } = await db.query(
        'SELECT route, status, decision, count::int AS count FROM guard_decisions_hourly',
      );
      expect(rows).toEqual([
        { route: AUTH, status: 401, decision: 'secret_key_missing', count: 3 },
      ]);
    } finally {
      await db.end();
      await database.drop();
    }
  });
});
