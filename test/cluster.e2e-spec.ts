import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase } from './support/database.js';
import { createApiKey, createTenant, seedUsageBody, type Tenant } from './support/factories.js';
import { Http } from './support/http.js';
import { metric, scrape } from './support/metrics.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG_USAGE = '/api/guard/log-usage';
const POOL_SIZE = 3;
const REQUEST_TIMEOUT_MS = 5000;
/** Set where a Redis runs (CI): the cluster tests then run, and fail if it does not answer. */
const REDIS_URL = process.env.TEST_REDIS_URL?.trim() || undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One keep-alive connection: every request on it reaches the same worker. */
class Connection {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly baseUrl: string) {}

  send(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: payload ? { 'content-type': 'application/json', ...headers } : headers,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text ? JSON.parse(text) : undefined,
            }),
          );
        },
      );
      req.on('error', reject);
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`${method} ${path}: no answer in ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.end(payload);
    });
  }

  admin(method: string, path: string, body?: unknown): Promise<Answer> {
    return this.send(method, `/api/admin${path}`, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The pid on the JSON request log line of `requestId`. */
function pidOf(service: ServiceProcess, requestId: string): number | undefined {
  for (const line of service.output().split('\n')) {
    if (!line.includes(requestId)) continue;
    const entry = JSON.parse(line) as { msg?: string; request_id?: string; pid?: number };
    if (entry.msg === 'request' && entry.request_id === requestId) return entry.pid;
  }
  return undefined;
}

/** The worker pid behind `connection`, from the log line of a request sent on it. */
async function workerOf(service: ServiceProcess, connection: Connection): Promise<number> {
  const answer = await connection.send('GET', '/api/health/live');
  expect(answer.status).toBe(200);
  const requestId = String(answer.headers['x-request-id']);
  for (let i = 0; i < 50; i++) {
    const pid = pidOf(service, requestId);
    if (pid !== undefined) return pid;
    await sleep(20);
  }
  throw new Error(`no request line for ${requestId}:\n${service.output()}`);
}

/** TEST_REDIS_URL set and unreachable is a failure, not a reason to skip. */
async function expectRedisAnswers(url: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
}

describe('WEB_CONCURRENCY without REDIS_URL', () => {
  it('is refused at start with the reason, before any worker or database starts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'guard-cluster-refused-'));
    try {
      const service = spawnService(await freePort(), {
        WEB_CONCURRENCY: '2',
        REDIS_URL: '',
        DATA_DIR: dataDir,
        DATABASE_URL: '',
      });
      const exit = await service.exited;
      expect(exit.code).toBe(1);
      expect(service.output()).toContain(
        'WEB_CONCURRENCY=2 needs REDIS_URL: without it each worker would count rate limits on ' +
          'its own, multiplying every limit by the number of workers',
      );
      expect(service.output()).not.toContain('starting 2 workers');
      // No embedded Postgres was created for it.
      await expect(readFile(join(dataDir, 'embedded-postgres.json'))).rejects.toThrow();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

if (REDIS_URL) {
  describe('WEB_CONCURRENCY=2 on a database server', () => {
    let database: { url: string; drop: () => Promise<void> };
    let db: pg.Client;
    let service: ServiceProcess;
    let metricsUrl: string;
    let tenant: Tenant;
    /** Two connections, each held by a different worker, and those workers' pids. */
    let first: Connection;
    let second: Connection;
    let pids: [number, number];
    const spare: Connection[] = [];
    const report: string[] = [];

    beforeAll(async () => {
      await expectRedisAnswers(REDIS_URL);
      database = await createTestDatabase();
      db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const metricsPort = await freePort();
      metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      service = spawnService(await freePort(), {
        NODE_ENV: 'production',
        WEB_CONCURRENCY: '2',
        REDIS_URL,
        DATABASE_URL: database.url,
        ADMIN_TOKEN,
        METRICS_PORT: String(metricsPort),
        DB_POOL_SIZE: String(POOL_SIZE),
        DEFAULT_RPM_LIMIT: '1000000',
        LOG_LEVEL: 'info',
      });
      await service.ready();
      tenant = await createTenant(new Http(service.baseUrl), { credit: 100 });

      // New connections are handed to the workers in turn: find one held by each. Readiness
      // answers once one worker listens; on a busy machine the other can take seconds more.
      first = new Connection(service.baseUrl);
      const firstPid = await workerOf(service, first);
      const deadline = Date.now() + 20_000;
      while (!second && Date.now() < deadline) {
        const candidate = new Connection(service.baseUrl);
        if ((await workerOf(service, candidate)) !== firstPid) second = candidate;
        else {
          spare.push(candidate);
          await sleep(100);
        }
      }
      expect(second).toBeDefined();
      pids = [firstPid, await workerOf(service, second)];
    });

    afterAll(async () => {
      process.stdout.write(`${report.join('\n')}\n`);
      for (const connection of [first, second, ...spare]) connection?.close();
      await service?.stop();
      await db?.end();
      await database?.drop();
    });

    it('answers from two worker processes, neither of them the primary', () => {
      expect(new Set(pids).size).toBe(2);
      expect(pids).not.toContain(service.pid);
    });

    it('serves the metrics of both workers, summed, on METRICS_PORT of the primary', async () => {
      const before = metric(await scrape(metricsUrl), 'guard_http_requests_total', {
        route: '/api/health/live',
      });
      for (let i = 0; i < 3; i++)
        expect((await first.send('GET', '/api/health/live')).status).toBe(200);
      for (let i = 0; i < 4; i++) {
        expect((await second.send('GET', '/api/health/live')).status).toBe(200);
      }
      const samples = await scrape(metricsUrl);
      expect(metric(samples, 'guard_http_requests_total', { route: '/api/health/live' })).toBe(
        before + 7,
      );
      // Each worker has a pool of its own.
      expect(metric(samples, 'guard_db_pool_max_connections')).toBe(2 * POOL_SIZE);
      // The API port does not serve them.
      expect((await first.send('GET', '/metrics')).status).toBe(404);
    });

    it('a key revoked through one worker is refused by the other at once', async () => {
      const delays: number[] = [];
      for (let trial = 0; trial < 10; trial++) {
        const [changer, other] = trial % 2 === 0 ? [first, second] : [second, first];
        const key = await createApiKey(new Http(service.baseUrl), tenant.userId);
        const headers = { SecretKey: tenant.secretKey, Authorization: key.key };
        // Both workers have it cached.
        expect((await changer.send('POST', AUTH, { model: tenant.model }, headers)).status).toBe(
          200,
        );
        expect((await other.send('POST', AUTH, { model: tenant.model }, headers)).status).toBe(200);
        expect((await changer.admin('DELETE', `/api-keys/${key.id}`)).status).toBe(204);
        const start = performance.now();
        for (;;) {
          const answer = await other.send('POST', AUTH, { model: tenant.model }, headers);
          if (answer.status === 401) {
            expect(answer.body).toMatchObject({ status: 401, code: 'api_key_revoked' });
            break;
          }
          expect(answer.status).toBe(200);
          if (performance.now() - start > 1000) throw new Error('still accepted after 1 s');
        }
        delays.push(performance.now() - start);
      }
      const worst = Math.max(...delays);
      report.push(
        `revocation through one worker, refused by the other: worst ${worst.toFixed(1)} ms over ` +
          `${delays.length} trials`,
      );
      expect(worst).toBeLessThan(1000);
    });

    it('replaces a worker that dies, and keeps answering meanwhile', async () => {
      const [victim] = pids;
      process.kill(victim, 'SIGKILL');
      // Once the primary knows, the other worker takes every new connection until the
      // replacement listens.
      const exitLine = `Worker ${victim} exited with signal SIGKILL`;
      for (let i = 0; i < 100 && !service.output().includes(exitLine); i++) await sleep(20);
      expect(service.output()).toContain(exitLine);
      for (let i = 0; i < 5; i++) {
        const fresh = new Connection(service.baseUrl);
        expect((await fresh.send('GET', '/api/health/live')).status).toBe(200);
        fresh.close();
      }
      const started = Date.now();
      let replacement: number | undefined;
      while (!replacement && Date.now() - started < 30_000) {
        const fresh = new Connection(service.baseUrl);
        const pid = await workerOf(service, fresh);
        fresh.close();
        if (!pids.includes(pid)) replacement = pid;
        else await sleep(100);
      }
      expect(replacement).toBeDefined();
      expect(service.running()).toBe(true);
      first.close();
      second.close();
    });

    it('on SIGTERM, every worker drains, the calls it admitted are written, and it exits 0', async () => {
      const http = new Http(service.baseUrl);
      const calls = Array.from({ length: 40 }, (_, i) =>
        http.post(LOG_USAGE, seedUsageBody({ request_id: `drain-${i}` }), {
          Authorization: tenant.apiKey,
          SecretKey: tenant.secretKey,
        }),
      );
      // Once the first is answered, the others are in flight or about to be.
      await Promise.race(calls);
      service.signal('SIGTERM');
      const answers = await Promise.allSettled(calls);
      const exit = await service.exited;
      expect(exit).toMatchObject({ code: 0, signal: null });

      const created = answers.filter((a) => a.status === 'fulfilled' && a.value.status === 201);
      for (const answer of answers) {
        if (answer.status !== 'fulfilled') continue; // refused at the socket once closed
        expect([201, 503]).toContain(answer.value.status);
        if (answer.value.status === 503) {
          expect(answer.value.body).toMatchObject({ status: 503, code: 'service_unavailable' });
        }
      }
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM usage_requests WHERE request_id LIKE 'drain-%'`,
      );
      expect(rows[0].n).toBe(created.length);
      expect(service.output().match(/Shut down in \d+ ms/g)?.length).toBe(2);
      report.push(`SIGTERM with 40 calls sent: ${created.length} written and answered 201`);
    });

    it('on SIGTERM while its workers start, exits 0 at once', async () => {
      const starting = spawnService(await freePort(), {
        NODE_ENV: 'production',
        WEB_CONCURRENCY: '2',
        REDIS_URL: REDIS_URL!,
        DATABASE_URL: database.url,
        ADMIN_TOKEN,
        METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      });
      for (let i = 0; i < 500 && !starting.output().includes('starting 2 workers'); i++) {
        await sleep(10);
      }
      const signalledAt = performance.now();
      starting.signal('SIGTERM');
      const exit = await starting.exited;
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.at - signalledAt).toBeLessThan(5000);
      expect(starting.output()).not.toContain('still running past the grace period');
    });
  });

  describe('WEB_CONCURRENCY=2 without DATABASE_URL', () => {
    let dataDir: string;

    beforeAll(async () => {
      await expectRedisAnswers(REDIS_URL);
      dataDir = await mkdtemp(join(tmpdir(), 'guard-cluster-embedded-'));
      await chmod(dataDir, 0o755);
    });

    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    it('starts the embedded Postgres once, for both workers, seeds the demo once and stops it on SIGTERM', async () => {
      const service = spawnService(await freePort(), {
        WEB_CONCURRENCY: '2',
        REDIS_URL: REDIS_URL!,
        DATA_DIR: dataDir,
        DATABASE_URL: '',
        ADMIN_TOKEN: '',
        NODE_ENV: '',
        LOG_LEVEL: 'info',
      });
      try {
        await service.ready(90_000);
        for (let i = 0; i < 500 && service.output().match(/Listening on http/g)?.length !== 2; i++)
          await sleep(20);
        const output = service.output();
        expect(output.match(/Postgres listening on/g)?.length).toBe(1);
        expect(output.match(/Demo data created/g)?.length).toBe(1);
        expect(output.match(/Listening on http/g)?.length).toBe(2);
        const demo = JSON.parse(await readFile(join(dataDir, 'demo-credentials.json'), 'utf8'));
        const http = new Http(service.baseUrl);
        for (let i = 0; i < 4; i++) {
          const answer = await http.post(
            AUTH,
            { model: demo.model },
            { Authorization: demo.api_key, SecretKey: demo.secret_key },
          );
          expect(answer.status).toBe(200);
        }
        const { port } = JSON.parse(
          await readFile(join(dataDir, 'embedded-postgres.json'), 'utf8'),
        ) as { port: number };
        service.signal('SIGTERM');
        expect(await service.exited).toMatchObject({ code: 0, signal: null });
        // The primary stopped the Postgres it started.
        await expect(
          new Promise((resolve, reject) =>
            connect(port, '127.0.0.1').once('connect', resolve).once('error', reject),
          ),
        ).rejects.toThrow(/ECONNREFUSED/);
      } finally {
        await service.stop();
      }
    });
  });
}
