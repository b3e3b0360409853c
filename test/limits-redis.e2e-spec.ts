import { Redis } from 'ioredis';
import { createApiKey, createTenant, type Tenant } from './support/factories.js';
import { Http, type HttpResponse } from './support/http.js';
import { metric, parseMetrics } from './support/metrics.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keys of this run only, so runs side by side never share a counter. */
const PREFIX = `guard-test:${process.pid}:${Date.now()}:`;

async function metricsOf(app: TestApp) {
  return parseMetrics(await (await fetch(app.metricsUrl!)).text());
}

function remainingOf(answer: HttpResponse): number {
  return Number(answer.headers.get('x-ratelimit-remaining-requests'));
}

if (REDIS_URL === undefined) {
  process.stdout.write(
    'Redis limit tests are not part of this run: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run them.\n',
  );
  describe('limits without Redis', () => {
    it('count in process, and export no Redis state', async () => {
      const t = await startTestApp();
      try {
        const samples = await metricsOf(t);
        expect(samples.some((sample) => sample.name === 'guard_limits_redis_up')).toBe(false);
      } finally {
        await t.close();
      }
    });
  });
} else {
  describe('limits on Redis', () => {
    let redis: Redis;

    beforeAll(async () => {
      // Set but unreachable is a failure, not a reason to skip.
      redis = new Redis(REDIS_URL, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    });

    afterAll(async () => {
      const keys = await redis.keys(`${PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    describe('three instances sharing Redis', () => {
      const apps: TestApp[] = [];
      let tenant: Tenant;

      beforeAll(async () => {
        const env = {
          REDIS_URL: REDIS_URL,
          LIMITS_REDIS_PREFIX: `${PREFIX}three:`,
          // The three instances share this test process's event loop: under a 300-call burst a
          // reply can wait longer than the default 100 ms for it, which would count as an outage.
          LIMITS_REDIS_TIMEOUT_MS: '2000',
        };
        apps.push(await startTestApp(env));
        for (let i = 0; i < 2; i++) {
          apps.push(await startTestApp(env, { databaseUrl: apps[0].databaseUrl }));
        }
        tenant = await createTenant(new Http(apps[0].baseUrl), { credit: 100 });
      });
      afterAll(async () => {
        for (const app of apps.reverse()) await app.close();
      });

      it('let 100 ± 1 of 300 round-robin calls through a limit of 100, with headers that agree', async () => {
        const admin = new Http(apps[0].baseUrl);
        const key = await createApiKey(admin, tenant.userId, { rpm_limit: 100 });
        // Caches and connections warm on another key, with the same burst, so the measured one
        // is short.
        const warm = await createApiKey(admin, tenant.userId, { rpm_limit: 10_000_000 });
        const warmHeaders = { SecretKey: tenant.secretKey, Authorization: warm.key };
        const warmed = await Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            new Http(apps[i % 3].baseUrl).post(AUTH, { model: tenant.model }, warmHeaders),
          ),
        );
        expect(warmed.filter((answer) => answer.status === 200)).toHaveLength(300);
        const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
        const started = performance.now();
        const answers = await Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            new Http(apps[i % 3].baseUrl).post(AUTH, { model: tenant.model }, headers),
          ),
        );
        const burstMs = performance.now() - started;
        const ok = answers.filter((answer) => answer.status === 200);
        const refused = answers.filter((answer) => answer.status === 429);
        // The window slides: one unit of 100/min comes back every 600 ms the burst lasts (on a
        // busy machine it can last longer than that; the count is exact for the time it took).
        const returned = Math.floor(burstMs / 600);
        process.stdout.write(
          `three instances: ${ok.length} of 300 let through in ${burstMs.toFixed(0)} ms ` +
            `(${returned} unit(s) back meanwhile)\n`,
        );
        expect(ok.length + refused.length).toBe(300);
        expect(ok.length).toBeGreaterThanOrEqual(99);
        expect(ok.length).toBeLessThanOrEqual(101 + returned);
        for (const answer of answers) {
          expect(answer.headers.get('x-ratelimit-limit-requests')).toBe('100');
        }
        // Every call let through took a unit of its own: the script counted them one after
        // another, each count from 99 down to 0 was answered, and a count answered twice is a
        // unit given back while the burst ran.
        const remaining = ok.map(remainingOf);
        expect(new Set(remaining)).toEqual(new Set(Array.from({ length: 100 }, (_, i) => i)));
        for (const answer of refused) {
          expect(answer.body.code).toBe('rate_limited');
          expect(remainingOf(answer)).toBe(0);
          expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        }
        // Every instance both let calls through and refused some: the count is shared.
        for (let i = 0; i < 3; i++) {
          const mine = answers.filter((_, n) => n % 3 === i);
          expect(mine.some((answer) => answer.status === 200)).toBe(true);
          expect(mine.some((answer) => answer.status === 429)).toBe(true);
        }
      });
    });

    describe('Redis unreachable mid-run', () => {
      let proxy: TcpProxy;
      let open: TestApp;
      let closed: TestApp;
      let tenant: Tenant;

      beforeAll(async () => {
        const target = new URL(REDIS_URL);
        proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
        await proxy.start();
        const env = { REDIS_URL: proxy.url(REDIS_URL), LIMITS_REDIS_PREFIX: `${PREFIX}outage:` };
        open = await startTestApp({
          ...env,
          LIMITS_REDIS_FAILURE: 'fail-open',
          LIMITS_INSTANCE_COUNT: '2',
        });
        closed = await startTestApp(
          { ...env, LIMITS_REDIS_FAILURE: 'fail-closed' },
          { databaseUrl: open.databaseUrl },
        );
        tenant = await createTenant(new Http(open.baseUrl), { credit: 100 });
      });
      afterAll(async () => {
        proxy.resume();
        await closed.close();
        await open.close();
        await proxy.stop();
      });

      it('fail-open serves within its share, fail-closed answers 503 fast; both recover by themselves', async () => {
        const admin = new Http(open.baseUrl);
        const key = await createApiKey(admin, tenant.userId, { rpm_limit: 10 });
        const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
        const auth = (app: TestApp) =>
          new Http(app.baseUrl).post(AUTH, { model: tenant.model }, headers);

        expect(remainingOf(await auth(open))).toBe(9);
        expect(remainingOf(await auth(closed))).toBe(8);

        proxy.cut();
        // fail-open: this instance's share, 10 ÷ 2 = 5, counted locally.
        const statuses = [];
        for (let i = 0; i < 8; i++) {
          const answer = await auth(open);
          statuses.push(answer.status);
          expect(answer.headers.get('x-ratelimit-limit-requests')).toBe('5');
        }
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
        // fail-closed: 503 in the contract's shape, fast, with Retry-After.
        for (let i = 0; i < 5; i++) {
          const started = performance.now();
          const answer = await auth(closed);
          expect(performance.now() - started).toBeLessThan(500);
          expect(answer.status).toBe(503);
          expect(answer.body).toMatchObject({ status: 503, code: 'service_unavailable' });
          expect(answer.body.request_id).toEqual(expect.any(String));
          expect(answer.headers.get('retry-after')).toBe('1');
        }
        for (const app of [open, closed]) {
          const samples = await metricsOf(app);
          expect(metric(samples, 'guard_limits_redis_up')).toBe(0);
          expect(metric(samples, 'guard_limits_redis_outages_total')).toBe(1);
        }
        expect(
          metric(await metricsOf(closed), 'guard_limits_redis_fallbacks_total', {
            policy: 'fail-closed',
          }),
        ).toBe(5);
        const [{ count }] = (
          await open.db.query(
            `SELECT count(*)::int AS count FROM reservations WHERE api_key_id = $1`,
            [key.id],
          )
        ).rows;
        expect(count).toBe(0);

        proxy.resume();
        // Back on Redis, without a restart: both count on the shared counter again.
        let answer = await auth(closed);
        const deadline = Date.now() + 10_000;
        while (answer.status === 503 && Date.now() < deadline) {
          await sleep(100);
          answer = await auth(closed);
        }
        expect(answer.status).toBe(200);
        expect(answer.headers.get('x-ratelimit-limit-requests')).toBe('10');
        const before = remainingOf(answer);
        expect(before).toBeLessThanOrEqual(7);
        let viaOpen = await auth(open);
        while (
          viaOpen.headers.get('x-ratelimit-limit-requests') !== '10' &&
          Date.now() < deadline
        ) {
          await sleep(100);
          viaOpen = await auth(open);
        }
        expect(viaOpen.status).toBe(200);
        expect(remainingOf(viaOpen)).toBeLessThan(before);
        for (const app of [open, closed]) {
          const samples = await metricsOf(app);
          expect(metric(samples, 'guard_limits_redis_up')).toBe(1);
          expect(metric(samples, 'guard_limits_redis_outages_total')).toBe(1);
        }
      });
    });
  });
}
