import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/app-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { runMigrations } from '../src/database/migrations.js';
import { Http } from './support/http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { isContract503, timedRequest, type TimedAnswer } from './support/timed-request.js';
import {
  createUsageLanes,
  exactLedger,
  ledgerFindings,
  payerBalances,
  queryOnce,
} from './support/usage-ledger.js';
import { UsageLoad, type UsageLane } from './support/usage-load.js';

const POOL_SIZE = 2;
const POOL_WAIT_MS = 500;
/** Above the wait, what an answer may take on a busy 2-core machine. */
const SLACK_MS = 750;
/** Held below the service's lock_timeout (5 s), so the statements it blocks wait, then run. */
const LOCK_MS = 2500;
const CALLS = 600;
const CLIENTS = 20;
const AUTH_BURST = 30;
const TEST_TIMEOUT_MS = 150_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every connection of the pool busy: the test holds `LOCK TABLE api_keys IN ACCESS EXCLUSIVE
 * MODE` (what a schema change takes) while model servers keep calling, with the guard reading
 * Postgres on every request (`AUTH_CACHE=off`) through a pool of two. The two statements that
 * got a connection wait on the lock; every other request waits DB_POOL_WAIT_MS for a connection
 * and answers the contract's 503; once the lock is gone, everything succeeds again.
 */
describe('with every pooled connection busy', () => {
  let dataDir: string;
  let database: EmbeddedDatabase;
  let service: ServiceProcess;
  let http: Http;
  let lanes: UsageLane[];
  let load: UsageLoad | undefined;
  const report: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'guard-pool-'));
    await chmod(dataDir, 0o755);
    database = await startEmbeddedPostgres(dataDir);
    await runMigrations(loadConfig({}).database, database.url);
    service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: String(POOL_SIZE),
      DB_POOL_WAIT_MS: String(POOL_WAIT_MS),
      AUTH_CACHE: 'off',
      DEFAULT_RPM_LIMIT: '1000000',
    });
    await service.ready();
    http = new Http(service.baseUrl);
    lanes = await createUsageLanes(http);
  });

  afterAll(async () => {
    process.stdout.write(`${report.join('\n')}\n`);
    await load?.stop();
    await service?.stop();
    await database?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const authBurst = (): Promise<TimedAnswer[]> =>
    Promise.all(
      Array.from({ length: AUTH_BURST }, (_, i) =>
        timedRequest(`${service.baseUrl}/api/guard/auth`, {
          headers: lanes[i % lanes.length].headers,
          body: { model: 'cogvlm-chat-17b' },
        }),
      ),
    );

  /** min / median / max of some durations, for the report. */
  const spread = (values: number[]) => {
    if (values.length === 0) return 'none';
    const sorted = [...values].sort((a, b) => a - b).map(Math.round);
    return `min ${sorted[0]} / p50 ${sorted[sorted.length >> 1]} / max ${sorted.at(-1)} ms`;
  };

  it(
    'answers 503 with Retry-After within the pool wait, never hangs, then succeeds again, losing and doubling nothing',
    async () => {
      const before = await payerBalances(database.url, lanes);
      load = new UsageLoad(service.baseUrl, lanes, {
        calls: CALLS,
        clients: CLIENTS,
        deadlineMs: 90_000,
        requestTimeoutMs: 10_000,
      });
      const running = load.run();
      await load.until(100);

      const locker = new pg.Client({ connectionString: database.url });
      await locker.connect();
      let lockedAt: number;
      let releasedAt: number;
      let blocked: { sessions: number; waiting: number }[];
      let ready: TimedAnswer;
      let burst: TimedAnswer[];
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        lockedAt = performance.now();
        await sleep(300);
        // The service's own sessions: no more than its pool, every one waiting on the lock.
        blocked = await queryOnce(
          database.url,
          `SELECT count(*)::int AS sessions,
             count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting
           FROM pg_stat_activity WHERE application_name = 'swarms-guard'`,
        );
        [ready, burst] = await Promise.all([
          timedRequest(`${service.baseUrl}/api/health/ready`),
          authBurst(),
        ]);
        await sleep(Math.max(0, LOCK_MS - (performance.now() - lockedAt)));
      } finally {
        await locker.query('COMMIT').catch(() => undefined);
        releasedAt = performance.now();
        await locker.end();
      }

      const after = await authBurst();
      const readyAfter = await timedRequest(`${service.baseUrl}/api/health/ready`);
      await running;

      const during = load.attemptsBetween(lockedAt, releasedAt);
      const unavailable = load.attempts.filter((attempt) => attempt.status === 503);
      const burst503 = burst.filter((answer) => answer.status === 503);
      report.push(
        `pool exhaustion: pool ${POOL_SIZE}, wait ${POOL_WAIT_MS} ms, lock held ${Math.round(releasedAt - lockedAt)} ms; ` +
          `service sessions during the lock ${JSON.stringify(blocked[0])}`,
        `pool exhaustion: log-usage ${load.summary()}; ${during.length} attempts started during the lock`,
        `pool exhaustion: log-usage 503s took ${spread(unavailable.map((a) => a.ended - a.started))}`,
        `pool exhaustion: auth burst during the lock ${burst503.length}/${AUTH_BURST} × 503 in ` +
          `${spread(burst503.map((answer) => answer.ms))}, ` +
          `readiness ${ready.status} in ${Math.round(ready.ms)} ms; after: ` +
          `${after.filter((answer) => answer.status === 200).length}/${AUTH_BURST} × 200, readiness ${readyAfter.status}`,
      );

      // The pool really was exhausted: both connections waited on the lock, none more opened.
      expect(blocked).toEqual([{ sessions: POOL_SIZE, waiting: POOL_SIZE }]);

      // Each log-usage answer was a 201 or the contract's 503 with Retry-After; none hung.
      const other = load.attempts
        .filter((attempt) => attempt.status !== 201 && !isContract503(attempt))
        .map(({ status, error, text }) => ({ status, error, text }));
      expect(other.slice(0, 5)).toEqual([]);
      // Calls whose batch already held a connection when the lock came wait for that batch's
      // outcome (it may commit): only the others can be answered 503, so how many depends on
      // where the lock caught the batches. Some must have been.
      expect(during.filter((attempt) => attempt.status === 503).length).toBeGreaterThan(0);
      // A 503 came once the wait was over: not before it (it waited), not long after. A call
      // that passed the guard first waits in group commit behind a batch that is itself
      // waiting for a connection, then its own batch waits: up to twice the wait.
      const late = unavailable
        .map((attempt) => attempt.ended - attempt.started)
        .filter((ms) => ms < POOL_WAIT_MS - 50 || ms > 2 * POOL_WAIT_MS + SLACK_MS);
      expect(late).toEqual([]);
      const slowest = Math.max(...load.attempts.map((attempt) => attempt.ended - attempt.started));
      expect(slowest).toBeLessThan(LOCK_MS + POOL_WAIT_MS + SLACK_MS);

      // Auth and readiness, each waiting for a connection of its own: 503 within the wait.
      expect(burst.filter((answer) => answer.status !== 503).map((a) => a.status)).toEqual([]);
      for (const answer of [...burst, ready]) {
        expect({ contract: isContract503(answer), retryAfter: answer.retryAfter }).toEqual({
          contract: true,
          retryAfter: '1',
        });
        expect(answer.ms).toBeGreaterThanOrEqual(POOL_WAIT_MS - 50);
        expect(answer.ms).toBeLessThan(POOL_WAIT_MS + SLACK_MS);
      }

      // Connections free again: everything succeeds.
      expect(after.map((answer) => answer.status)).toEqual(Array(AUTH_BURST).fill(200));
      expect(readyAfter.status).toBe(200);

      // Every call acknowledged at last; each 201 has its one row, charged once.
      expect(await ledgerFindings(database.url, load, before)).toEqual(exactLedger(CALLS));
    },
    TEST_TIMEOUT_MS,
  );
});
