import { randomBytes } from 'node:crypto';
import { AuthCache } from '../src/auth-cache/auth-cache.service.js';
import { SEED_AUTH_BODY } from '../src/auth/seed-examples.js';
import { createTestDatabase } from './support/database.js';
import { createTenant, guardHeaders, type Tenant } from './support/factories.js';
import { Http } from './support/http.js';
import { metric, scrape } from './support/metrics.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, deadlineMs: number, read: () => Promise<T | undefined>) {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await sleep(50);
  }
}

describe('the guard cache', () => {
  describe('bounded memory', () => {
    let testApp: TestApp;
    let http: Http;
    let tenant: Tenant;

    beforeAll(async () => {
      testApp = await startTestApp({
        AUTH_CACHE_MAX_ENTRIES: '100',
        AUTH_CACHE_NEGATIVE_MAX_ENTRIES: '10',
        // The flood below is of failures: not throttled here, so every one reaches the cache.
        AUTH_FAILURE_LIMIT: '1000000',
      });
      http = new Http(testApp.baseUrl);
      tenant = await createTenant(http);
    });
    afterAll(() => testApp.close());

    it('keeps known secrets and keys through a flood of unknown ones', async () => {
      expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);
      const flood = Array.from({ length: 200 }, () => `sk-${randomBytes(24).toString('hex')}`);
      for (let i = 0; i < flood.length; i += 20) {
        const answers = await Promise.all(
          flood
            .slice(i, i + 20)
            .map((secret) =>
              http.post(AUTH, SEED_AUTH_BODY, { ...guardHeaders(tenant), SecretKey: secret }),
            ),
        );
        expect(new Set(answers.map((a) => a.body.code))).toEqual(new Set(['invalid_secret_key']));
      }

      const before = await scrape(testApp.metricsUrl!);
      expect(metric(before, 'guard_auth_cache_entries', { kind: 'secret', store: 'unknown' })).toBe(
        10,
      );
      expect(metric(before, 'guard_auth_cache_entries', { kind: 'secret', store: 'known' })).toBe(
        1,
      );
      expect(
        metric(before, 'guard_auth_cache_evictions_total', { kind: 'secret', store: 'unknown' }),
      ).toBe(190);
      expect(metric(before, 'guard_auth_cache_evictions_total', { store: 'known' })).toBe(0);

      expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);
      const after = await scrape(testApp.metricsUrl!);
      for (const kind of ['secret', 'key']) {
        const hits = (samples: typeof after) =>
          metric(samples, 'guard_auth_cache_lookups_total', { kind, outcome: 'hit' });
        expect({ kind, hits: hits(after) - hits(before) }).toEqual({ kind, hits: 1 });
      }
    });

    it('evicts the least recently used entry of a kind, not the oldest', async () => {
      const cache = testApp.app.get(AuthCache);
      const loads: string[] = [];
      const get = (name: string) =>
        cache.get('model', `lru-${name}`, async () => {
          loads.push(name);
          return { value: { id: name, enabled: true } };
        });
      for (let i = 0; i < 100; i++) await get(String(i));
      // The kind is full; 0 is used again, so 1 is now the least recently used.
      await get('0');
      await get('100');
      loads.length = 0;
      await get('0');
      await get('2');
      expect(loads).toEqual([]);
      await get('1');
      expect(loads).toEqual(['1']);
    });
  });

  describe('a LISTEN connection that goes silent', () => {
    const HEARTBEAT_MS = 500;
    let proxy: TcpProxy;
    let database: { url: string; drop: () => Promise<void> };
    let testApp: TestApp;
    let http: Http;
    let tenant: Tenant;

    beforeAll(async () => {
      database = await createTestDatabase();
      const target = new URL(database.url);
      proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
      await proxy.start();
      testApp = await startTestApp(
        { AUTH_CACHE_HEARTBEAT_MS: String(HEARTBEAT_MS) },
        { databaseUrl: proxy.url(database.url) },
      );
      http = new Http(testApp.baseUrl);
      tenant = await createTenant(http);
    });
    afterAll(async () => {
      await testApp.close();
      await proxy.stop();
      await database.drop();
    });

    const readiness = async () => (await http.request('GET', '/api/health/ready')).body?.cache;
    const listening = async () =>
      metric(await scrape(testApp.metricsUrl!), 'guard_auth_cache_listening');

    it('is found deaf within three heartbeats, stops trusting the cache, and recovers', async () => {
      expect(await readiness()).toBe('listening');
      expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);

      // Postgres sees the proxy's side of the link; the test's own pool goes around it.
      const { rows } = await testApp.db.query<{ client_port: number }>(
        `SELECT client_port FROM pg_stat_activity
         WHERE application_name = 'swarms-guard-cache' AND datname = current_database()`,
      );
      expect(rows).toHaveLength(1);
      expect(proxy.freeze(rows[0].client_port)).toBe(true);

      // Revoked "on another instance": straight in the database, announced with NOTIFY, which
      // the frozen connection never delivers.
      await testApp.db.query(
        `WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING 1)
         SELECT pg_notify('guard_cache', 'key') FROM revoked`,
        [tenant.apiKeyId],
      );

      const deaf = await until('readiness shows the cache not listening', 10_000, async () =>
        (await readiness()) === 'not_listening' ? true : undefined,
      );
      // Three missed heartbeats, plus one tick of slack and the poll.
      expect(deaf.ms).toBeLessThanOrEqual(5 * HEARTBEAT_MS + 500);
      expect(await listening()).toBe(0);
      const revoked = await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant));
      expect(revoked.status).toBe(401);
      expect(revoked.body.code).toBe('api_key_revoked');

      // A new connection through the proxy, not frozen: trusted again, by itself.
      await until('the cache listens again', 10_000, async () =>
        (await readiness()) === 'listening' ? true : undefined,
      );
      expect(await listening()).toBe(1);
      const stillRevoked = await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant));
      expect(stillRevoked.body.code).toBe('api_key_revoked');
    });
  });
});
