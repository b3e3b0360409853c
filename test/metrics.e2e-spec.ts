import { SEED_AUTH_BODY } from '../src/auth/seed-examples.js';
import { generateApiKey } from '../src/auth/secrets.js';
import { createTenant, guardHeaders, seedUsageBody, type Tenant } from './support/factories.js';
import { Http } from './support/http.js';
import { metric, parseMetrics, scrape } from './support/metrics.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG = '/api/guard/log-usage';

describe('Prometheus metrics', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;
  let metricsUrl: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
    metricsUrl = testApp.metricsUrl!;
  });
  afterAll(() => testApp.close());

  it('are served on their own port, in the Prometheus text format, and not on the API port', async () => {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(await response.text());
    expect(metric(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(new URL(metricsUrl).port).not.toBe(new URL(testApp.baseUrl).port);

    const onApi = await http.request('GET', '/metrics');
    expect(onApi.status).toBe(404);
    expect(onApi.body).toMatchObject({ status: 404, code: 'route_not_found' });
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('count requests by route and status, guard decisions by code, and ledger batches', async () => {
    const before = await scrape(metricsUrl);
    const ok = await Promise.all(
      Array.from({ length: 5 }, () => http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))),
    );
    expect(ok.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const refused = await http.post(AUTH, SEED_AUTH_BODY, {
      ...guardHeaders(tenant),
      Authorization: generateApiKey(),
    });
    expect(refused.status).toBe(401);
    const logged = await Promise.all(
      Array.from({ length: 3 }, () => http.post(LOG, seedUsageBody(), guardHeaders(tenant))),
    );
    expect(logged.map((r) => r.status)).toEqual([201, 201, 201]);
    const reserved = await http.post(
      AUTH,
      { ...SEED_AUTH_BODY, max_tokens: 10 },
      guardHeaders(tenant),
    );
    expect(reserved.status).toBe(200);

    const after = await scrape(metricsUrl);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metric(after, name, labels) - metric(before, name, labels);
    const route = { method: 'POST', route: '/api/guard/auth' };
    expect(delta('guard_http_requests_total', { ...route, status: '200' })).toBe(6);
    expect(delta('guard_http_requests_total', { ...route, status: '401' })).toBe(1);
    expect(
      delta('guard_http_requests_total', {
        method: 'POST',
        route: '/api/guard/log-usage',
        status: '201',
      }),
    ).toBe(3);
    expect(delta('guard_http_request_duration_seconds_count', { ...route, status: '200' })).toBe(6);
    expect(
      delta('guard_http_request_duration_seconds_bucket', { ...route, status: '200', le: '+Inf' }),
    ).toBe(6);
    expect(delta('guard_decisions_total', { route: '/api/guard/auth', decision: 'ok' })).toBe(6);
    expect(
      delta('guard_decisions_total', { route: '/api/guard/auth', decision: 'invalid_api_key' }),
    ).toBe(1);
    expect(delta('guard_decisions_total', { route: '/api/guard/log-usage', decision: 'ok' })).toBe(
      3,
    );
    // Three usage calls in one or more batches; the histogram's sum is the number of calls.
    expect(delta('guard_ledger_batch_size_sum', { operation: 'usage' })).toBe(3);
    expect(delta('guard_ledger_batch_size_count', { operation: 'usage' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(delta('guard_ledger_batch_size_sum', { operation: 'reserve' })).toBe(1);
    expect(
      delta('guard_ledger_commit_duration_seconds_count', {
        operation: 'usage',
        result: 'committed',
      }),
    ).toBe(delta('guard_ledger_batch_size_count', { operation: 'usage' }));
    // Auth counts against the key's rate limit; usage that happened never does.
    expect(
      delta('guard_limiter_decisions_total', {
        limiter: 'requests_per_minute',
        outcome: 'allowed',
      }),
    ).toBe(6);
  });

  it('show the cache by kind, the LISTEN channel and the pool', async () => {
    const before = await scrape(metricsUrl);
    expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);
    const after = await scrape(metricsUrl);
    const delta = (labels: Record<string, string>) =>
      metric(after, 'guard_auth_cache_lookups_total', labels) -
      metric(before, 'guard_auth_cache_lookups_total', labels);
    // Warm by now: the secret, the key and the model are hits.
    for (const kind of ['secret', 'key', 'model']) {
      expect({ kind, hits: delta({ kind, outcome: 'hit' }) }).toEqual({ kind, hits: 1 });
    }
    expect(metric(after, 'guard_auth_cache_entries', { kind: 'key', store: 'known' })).toBe(1);
    expect(metric(after, 'guard_auth_cache_listening')).toBe(1);
    const heartbeat = metric(after, 'guard_auth_cache_last_heartbeat_timestamp_seconds');
    expect(Date.now() / 1000 - heartbeat).toBeLessThan(30);
    expect(metric(after, 'guard_db_pool_max_connections')).toBe(testApp.config.database.poolSize);
    const inUse = metric(after, 'guard_db_pool_connections', { state: 'in_use' });
    const idle = metric(after, 'guard_db_pool_connections', { state: 'idle' });
    expect(inUse + idle).toBeGreaterThan(0);
    expect(inUse + idle).toBeLessThanOrEqual(testApp.config.database.poolSize);
    expect(after.some((s) => s.name === 'guard_db_pool_waiting_requests')).toBe(true);
  });

  it('never carry a secret, a hash or a raw URL', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(text).not.toContain(tenant.apiKey);
    expect(text).not.toContain(tenant.secretKey);
    expect(text).not.toMatch(/sk-[0-9a-f]{16}/);
    // Routes are patterns: ids never become label values.
    expect(text).not.toContain(tenant.userId);
  });

  it('can be turned off', async () => {
    const off = await startTestApp({ METRICS_PORT: 'off' });
    try {
      expect(off.metricsUrl).toBeNull();
    } finally {
      await off.close();
    }
  });
});
