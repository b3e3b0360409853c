import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/app-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { runMigrations } from '../src/database/migrations.js';
import { seedUsageBody } from './support/factories.js';
import { Http } from './support/http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { isContract503, timedRequest } from './support/timed-request.js';
import {
  createUsageLanes,
  exactLedger,
  ledgerFindings,
  payerBalances,
  queryOnce,
} from './support/usage-ledger.js';
import { UsageLoad, type UsageLane } from './support/usage-load.js';

const CALLS = 1500;
const CLIENTS = 20;
/** SIGTERM comes once this many calls have their 201. */
const SIGNAL_AFTER = 400;
/** The service's default SHUTDOWN_GRACE_MS. */
const DEFAULT_GRACE_MS = 8000;
/** Above a deadline, what the process may take to exit on a busy 2-core machine. */
const SLACK_MS = 1500;
/** Below the service's lock_timeout (5 s): the statement it blocks waits, then runs. */
const HOLD_MS = 1500;
const SHUTTING_DOWN = 'The service is shutting down';
const TEST_TIMEOUT_MS = 200_000;
const LOG_USAGE = '/api/guard/log-usage';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SIGTERM to the built service: new requests are refused with the contract's 503 (and
 * `Connection: close`), readiness answers 503, requests in flight and their ledger batch finish
 * and answer, and the process exits 0 within SHUTDOWN_GRACE_MS; past it, it exits anyway and
 * logs what it dropped. A second instance on the same database, started first, takes over the
 * clients, as behind a load balancer.
 */
describe('on SIGTERM', () => {
  let dataDir: string;
  let database: EmbeddedDatabase;
  let survivor: ServiceProcess;
  let lanes: UsageLane[];
  const services: ServiceProcess[] = [];
  const loads: UsageLoad[] = [];
  const lockers: pg.Client[] = [];
  const report: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'guard-shutdown-'));
    await chmod(dataDir, 0o755);
    database = await startEmbeddedPostgres(dataDir);
    await runMigrations(loadConfig({}).database, database.url);
    survivor = await startInstance();
    lanes = await createUsageLanes(new Http(survivor.baseUrl));
  });

  afterAll(async () => {
    process.stdout.write(`${report.join('\n')}\n`);
    for (const load of loads) await load.stop();
    for (const locker of lockers) await locker.end().catch(() => undefined);
    for (const service of services) await service.stop();
    await database?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startInstance(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...env,
    });
    services.push(service);
    await service.ready();
    return service;
  }

  /** The JSON log lines of a process (production logs), from the Shutdown context. */
  function shutdownLog(service: ServiceProcess): { level: string; msg: string; dropped?: any }[] {
    return service
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { context?: string; level: string; msg: string })
      .filter((line) => line.context === 'Shutdown');
  }

  /**
   * A transaction of the test's own holding `payer`'s credit row, which every ledger batch
   * charging it locks first; resolves once the service's batch waits on it.
   */
  async function holdPayer(payer: string): Promise<pg.Client> {
    const locker = new pg.Client({ connectionString: database.url });
    lockers.push(locker);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM user_credits WHERE user_id = $1 FOR UPDATE', [payer]);
    return locker;
  }

  async function untilWaitingOnLock(): Promise<void> {
    const started = performance.now();
    for (;;) {
      const [{ waiting }] = await queryOnce<{ waiting: number }>(
        database.url,
        `SELECT count(*)::int AS waiting FROM pg_stat_activity
         WHERE application_name = 'swarms-guard' AND wait_event_type = 'Lock'`,
      );
      if (waiting > 0) return;
      if (performance.now() - started > 10_000) throw new Error('no statement waits on the lock');
      await sleep(20);
    }
  }

  function usageRows(requestId: string) {
    return queryOnce<{ id: string }>(
      database.url,
      'SELECT id FROM usage_events WHERE api_key_id = $1 AND request_id = $2',
      [lanes[0].apiKeyId, requestId],
    );
  }

  const logUsage = (service: ServiceProcess, requestId: string) =>
    timedRequest(`${service.baseUrl}${LOG_USAGE}`, {
      headers: { ...lanes[0].headers, 'x-request-id': requestId },
      body: seedUsageBody({ request_id: requestId }),
    });

  const isShuttingDown503 = (answer: {
    status: number | null;
    text: string;
    retryAfter: string | null;
    connection: string | null;
  }) => isContract503(answer, SHUTTING_DOWN) && answer.connection === 'close';

  it(
    'answers every call in flight and its batch, refuses new ones with 503, exits 0, and loses and doubles nothing',
    async () => {
      const before = await payerBalances(database.url, lanes);
      // At info, for the line the shutdown ends with.
      const draining = await startInstance({ LOG_LEVEL: 'log' });
      const load = new UsageLoad(draining.baseUrl, lanes, {
        calls: CALLS,
        clients: CLIENTS,
        deadlineMs: 120_000,
        failover: [survivor.baseUrl],
      });
      loads.push(load);
      const running = load.run();
      await load.until(SIGNAL_AFTER);
      const acknowledgedAtSignal = load.acknowledged.size;
      const signalledAt = performance.now();
      draining.signal('SIGTERM');
      const exit = await draining.exited;
      await running;

      const log = shutdownLog(draining);
      const done = log.find((line) => line.msg.startsWith('Shut down in'));
      const toDraining = load.attempts.filter(
        (attempt) => attempt.baseUrl === draining.baseUrl && attempt.started >= signalledAt,
      );
      const kinds = new Map<string, number>();
      for (const attempt of toDraining) {
        const kind =
          attempt.status === null
            ? `no answer (${attempt.error})`
            : isShuttingDown503(attempt)
              ? '503 shutting down'
              : String(attempt.status);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      report.push(
        `SIGTERM under load: ${load.summary()}`,
        `SIGTERM under load: signalled after ${acknowledgedAtSignal} acknowledged; exit ` +
          `${exit.code ?? exit.signal} ${Math.round(exit.at - signalledAt)} ms after the signal; ` +
          `the service logged "${done?.msg}"`,
        `SIGTERM under load: attempts to the draining instance after the signal: ` +
          [...kinds].map(([kind, n]) => `${kind} × ${n}`).join(', '),
      );

      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      expect(exit.at - signalledAt).toBeLessThan(DEFAULT_GRACE_MS);
      expect(log.filter((line) => line.level !== 'info')).toEqual([]);
      // The signal landed in a running load: calls were in flight, and more were still to come.
      const inFlight = Number(/(\d+) request\(s\) in flight answered/.exec(done?.msg ?? '')?.[1]);
      expect(inFlight).toBeGreaterThan(0);
      expect(acknowledgedAtSignal).toBeLessThan(CALLS - 200);

      // After the signal the draining instance answered a 201 (calls admitted before it), the
      // contract's 503 with Retry-After and Connection: close, or no longer took connections.
      const unexpected = toDraining
        .filter(
          (attempt) =>
            attempt.status !== 201 &&
            !isShuttingDown503(attempt) &&
            !(attempt.status === null && attempt.error === 'ECONNREFUSED'),
        )
        .map(({ status, error, text, connection }) => ({ status, error, text, connection }));
      expect(unexpected.slice(0, 5)).toEqual([]);

      // No call was committed without its 201 reaching the client: not one 201 came as a
      // replay (a call answered in flight has nothing to retry).
      expect([...load.acknowledged.values()].filter((ack) => ack.replayed).length).toBe(0);
      expect(await ledgerFindings(database.url, load, before)).toEqual(exactLedger(CALLS));

      // Sent again to the other instance, a tenth of the calls are replays of their first 201.
      const again = load.calls.filter((_, i) => i % 10 === 0);
      const replays = await load.resend(again, survivor.baseUrl);
      expect(
        replays.filter(
          (attempt) =>
            attempt.status !== 201 ||
            !attempt.replayed ||
            attempt.text !== load.acknowledged.get(attempt.requestId)?.text,
        ).length,
      ).toBe(0);
      expect(await ledgerFindings(database.url, load, before)).toEqual(exactLedger(CALLS));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'lets a slow request in flight finish with its normal answer while it refuses new ones and readiness',
    async () => {
      const draining = await startInstance();
      const warmUp = await logUsage(draining, `warm-${randomUUID()}`);
      expect(warmUp.status).toBe(201);

      const slowId = `slow-${randomUUID()}`;
      const refusedId = `refused-${randomUUID()}`;
      const locker = await holdPayer(lanes[0].payerUserId);
      const heldAt = performance.now();
      const slow = logUsage(draining, slowId);
      await untilWaitingOnLock();
      const signalledAt = performance.now();
      draining.signal('SIGTERM');
      await sleep(300);

      const [refused, ready, live] = await Promise.all([
        logUsage(draining, refusedId),
        timedRequest(`${draining.baseUrl}/api/health/ready`),
        timedRequest(`${draining.baseUrl}/api/health/live`),
      ]);
      const stillRunning = draining.running();
      await sleep(Math.max(0, HOLD_MS - (performance.now() - signalledAt)));
      await locker.query('COMMIT');
      const releasedAt = performance.now();
      const slowAnswer = await slow;
      const exit = await draining.exited;
      const afterExit = await logUsage(draining, refusedId);

      report.push(
        `slow request: held ${Math.round(releasedAt - heldAt)} ms, SIGTERM ${Math.round(signalledAt - heldAt)} ms in; ` +
          `it answered ${slowAnswer.status} after ${Math.round(slowAnswer.ms)} ms; ` +
          `during the drain log-usage ${refused.status} in ${Math.round(refused.ms)} ms ` +
          `(Retry-After ${refused.retryAfter}, Connection ${refused.connection}), readiness ${ready.status}, ` +
          `liveness ${live.status}; exit ${exit.code ?? exit.signal} ${Math.round(exit.at - signalledAt)} ms ` +
          `after the signal, ${Math.round(exit.at - releasedAt)} ms after the release; then ` +
          `${afterExit.status ?? afterExit.error}`,
      );

      // While it drained: the process stayed up, new work was refused, readiness too.
      expect(stillRunning).toBe(true);
      expect({ refused: isShuttingDown503(refused), body: refused.body }).toEqual({
        refused: true,
        body: expect.objectContaining({ request_id: refusedId }),
      });
      expect(refused.retryAfter).toBe('1');
      expect(refused.ms).toBeLessThan(1000);
      expect(isShuttingDown503(ready)).toBe(true);
      expect({ status: live.status, body: live.body }).toEqual({
        status: 200,
        body: { status: 'ok' },
      });

      // The request in flight got its normal answer, and its row, once; the refused one none.
      expect(slowAnswer.status).toBe(201);
      expect(slowAnswer.body).toMatchObject({ status: 201, message: 'Success' });
      // Admitted before the drain, answered during it: its connection closes as well.
      expect(slowAnswer.connection).toBe('close');
      expect(live.connection).toBe('close');
      expect(await usageRows(slowId)).toEqual([{ id: slowAnswer.body!.id }]);
      expect(await usageRows(refusedId)).toEqual([]);

      // It exited 0 once the request was answered, within the grace period.
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      expect(exit.at).toBeGreaterThanOrEqual(releasedAt);
      expect(exit.at - signalledAt).toBeLessThan(DEFAULT_GRACE_MS);
      expect(afterExit).toMatchObject({ status: null, error: 'ECONNREFUSED' });

      // The refused call, sent to the other instance, is recorded there.
      const retried = await logUsage(survivor, refusedId);
      expect(retried.status).toBe(201);
      expect(await usageRows(refusedId)).toEqual([{ id: retried.body!.id }]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'exits anyway once SHUTDOWN_GRACE_MS is over, logging the request it dropped; its retry is recorded once',
    async () => {
      const graceMs = 1000;
      const draining = await startInstance({ SHUTDOWN_GRACE_MS: String(graceMs) });
      const warmUp = await logUsage(draining, `warm-${randomUUID()}`);
      expect(warmUp.status).toBe(201);

      const stuckId = `stuck-${randomUUID()}`;
      const locker = await holdPayer(lanes[0].payerUserId);
      const stuck = logUsage(draining, stuckId);
      await untilWaitingOnLock();
      const signalledAt = performance.now();
      draining.signal('SIGTERM');
      const exit = await draining.exited;
      const stuckAnswer = await stuck;
      await locker.query('COMMIT');

      const dropped = shutdownLog(draining).find((line) => line.level === 'error');
      report.push(
        `grace over: exit ${exit.code ?? exit.signal} ${Math.round(exit.at - signalledAt)} ms after the signal ` +
          `(grace ${graceMs} ms); the stuck call got ${stuckAnswer.status ?? stuckAnswer.error}; ` +
          `logged "${dropped?.msg}" ${JSON.stringify(dropped?.dropped)}`,
      );

      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 1, signal: null });
      expect(exit.at - signalledAt).toBeGreaterThanOrEqual(graceMs);
      expect(exit.at - signalledAt).toBeLessThan(graceMs + SLACK_MS);
      expect(stuckAnswer.status).toBeNull();
      expect(dropped?.msg).toMatch(
        /^Grace period of 1000 ms over after \d+ ms, while draining: exiting with 1 request\(s\) unanswered$/,
      );
      expect(dropped?.dropped).toEqual([
        { id: stuckId, method: 'POST', route: LOG_USAGE, ms: expect.any(Number) },
      ]);

      // Its statement may still have committed once the lock went; the client cannot know, and
      // retries with the same request_id: one row either way, and the answer names it.
      await untilNoStatementWaits();
      const committedBeforeRetry = (await usageRows(stuckId)).length;
      const retried = await logUsage(survivor, stuckId);
      const rows = await usageRows(stuckId);
      report.push(
        `grace over: ${committedBeforeRetry} row committed by the dropped call; the retry answered ` +
          `${retried.status}${retried.replayed ? ' as a replay' : ''}, ${rows.length} row in the end`,
      );
      expect(retried.status).toBe(201);
      expect(retried.replayed).toBe(committedBeforeRetry === 1);
      expect(rows).toEqual([{ id: retried.body!.id }]);
    },
    TEST_TIMEOUT_MS,
  );

  async function untilNoStatementWaits(): Promise<void> {
    const started = performance.now();
    for (;;) {
      const [{ busy }] = await queryOnce<{ busy: number }>(
        database.url,
        `SELECT count(*)::int AS busy FROM pg_stat_activity
         WHERE application_name = 'swarms-guard' AND state = 'active'`,
      );
      if (busy === 0) return;
      if (performance.now() - started > 10_000) throw new Error('statements still running');
      await sleep(20);
    }
  }
});
