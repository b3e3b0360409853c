import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/app-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { runMigrations } from '../src/database/migrations.js';
import { Http } from './support/http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { isContract503 } from './support/timed-request.js';
import {
  createUsageLanes,
  payerBalances,
  queryOnce,
  type PayerBalance,
} from './support/usage-ledger.js';
import { UsageLoad, type UsageLane } from './support/usage-load.js';

const CALLS = 1500;
const CLIENTS = 20;
/** The fault comes once this many calls have their 201. */
const FAULT_AFTER = 400;
const LOAD_DEADLINE_MS = 120_000;
/** Generous for a busy machine; on an idle one each test takes a small part of it. */
const TEST_TIMEOUT_MS = 200_000;
const POSTGRES_DOWN_MS = 2000;
/** An answer slower than this while Postgres is down counts as a hang. */
const FAST_MS = 3000;

/** The message of the contract's 503 for a database that cannot be reached. */
const UNAVAILABLE = 'Service temporarily unavailable';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * "A 201 from log-usage means committed, nothing lost, nothing doubled", under faults: the
 * built service killed mid-load, Postgres stopped mid-load. Model servers retry each call with
 * its request_id until it is acknowledged; afterwards every call has exactly the one row its
 * 201 named, and the payers, keys and rollups are charged exactly those rows.
 */
describe('log-usage under faults', () => {
  let dataDir: string;
  let database: EmbeddedDatabase;
  const services: ServiceProcess[] = [];
  const loads: UsageLoad[] = [];
  const report: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'guard-faults-'));
    await chmod(dataDir, 0o755);
    database = await startEmbeddedPostgres(dataDir);
    await runMigrations(loadConfig({}).database, database.url);
  });

  afterAll(async () => {
    process.stdout.write(`${report.join('\n')}\n`);
    for (const load of loads) await load.stop();
    for (const service of services) await service.stop();
    await database?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function startService(port: number, env: Record<string, string> = {}): ServiceProcess {
    const service = spawnService(port, {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...env,
    });
    services.push(service);
    return service;
  }

  function newLoad(baseUrl: string, lanes: UsageLane[]): UsageLoad {
    const load = new UsageLoad(baseUrl, lanes, {
      calls: CALLS,
      clients: CLIENTS,
      deadlineMs: LOAD_DEADLINE_MS,
    });
    loads.push(load);
    return load;
  }

  /** Every call acknowledged once, stored once, and charged exactly once everywhere. */
  async function expectExactLedger(load: UsageLoad, before: PayerBalance[]): Promise<void> {
    const keys = [...new Set(load.calls.map((call) => call.lane.apiKeyId))];

    // Every request_id got its 201, first or replayed.
    const refused = [...load.refused.values()].map(
      (attempt) => `${attempt.requestId}: ${attempt.status} ${attempt.text}`,
    );
    const missing = load.calls
      .filter((call) => !load.acknowledged.has(call.requestId))
      .map((call) => `${call.requestId}: no 201 before the deadline`);
    expect({
      refused: refused.length,
      missing: missing.length,
      examples: [...refused, ...missing].slice(0, 5),
    }).toEqual({ refused: 0, missing: 0, examples: [] });

    // Exactly one row per request_id, and no other rows on the keys.
    expect(
      await queryOnce(
        database.url,
        `SELECT request_id, count(*)::int AS rows FROM usage_events
         WHERE api_key_id = ANY ($1::uuid[]) GROUP BY api_key_id, request_id
         HAVING count(*) <> 1 OR request_id IS NULL LIMIT 5`,
        [keys],
      ),
    ).toEqual([]);
    const [{ rows }] = await queryOnce<{ rows: number }>(
      database.url,
      `SELECT count(*)::int AS rows FROM usage_events WHERE api_key_id = ANY ($1::uuid[])`,
      [keys],
    );
    expect(rows).toBe(CALLS);

    // Each 201 named its row: the row's id and cost, billed to the lane's payer and organization.
    const answered = [...load.acknowledged.values()].map((ack) => ({
      request_id: ack.call.requestId,
      api_key_id: ack.call.lane.apiKeyId,
      payer_user_id: ack.call.lane.payerUserId,
      organization_id: ack.call.lane.organizationId,
      id: ack.id,
      total: ack.total,
    }));
    expect(
      await queryOnce(
        database.url,
        `SELECT a.request_id, a.id AS answered_id, e.id AS stored_id,
           a.total::text AS answered_total, e.total_cost::text AS stored_total
         FROM jsonb_to_recordset($1::jsonb) AS a(request_id text, api_key_id uuid,
           payer_user_id uuid, organization_id uuid, id uuid, total numeric)
         LEFT JOIN usage_events e ON e.api_key_id = a.api_key_id AND e.request_id = a.request_id
         WHERE e.id IS DISTINCT FROM a.id OR e.total_cost IS DISTINCT FROM a.total
           OR e.payer_user_id IS DISTINCT FROM a.payer_user_id
           OR e.organization_id IS DISTINCT FROM a.organization_id
         LIMIT 5`,
        [JSON.stringify(answered)],
      ),
    ).toEqual([]);

    // Each payer's debit and month spend are the sum of its rows, compared as numeric.
    const payers = await queryOnce<{
      user_id: string;
      debit: string;
      spent: string;
      debit_is_spent: boolean;
      month_is_spent: boolean;
      requests: number;
    }>(
      database.url,
      `SELECT b.user_id, (b.before - (c.paid + c.free))::text AS debit, s.spent::text AS spent,
         b.before - (c.paid + c.free) = s.spent AS debit_is_spent,
         (m.amount, m.requests) = (s.spent, s.requests) AS month_is_spent, s.requests::int AS requests
       FROM jsonb_to_recordset($1::jsonb) AS b(user_id uuid, before numeric)
       JOIN user_credits c ON c.user_id = b.user_id
       CROSS JOIN LATERAL (SELECT COALESCE(sum(total_cost), 0) AS spent, count(*) AS requests
                           FROM usage_events WHERE payer_user_id = b.user_id) s
       CROSS JOIN LATERAL (SELECT COALESCE(sum(amount), 0) AS amount,
                             COALESCE(sum(requests), 0) AS requests
                           FROM monthly_spend WHERE user_id = b.user_id) m
       ORDER BY b.user_id`,
      [JSON.stringify(before)],
    );
    expect(payers).toHaveLength(2);
    for (const payer of payers) {
      expect(payer).toEqual({
        ...payer,
        debit_is_spent: true,
        month_is_spent: true,
        requests: expect.any(Number),
      });
      expect(Number(payer.spent)).toBeGreaterThan(0);
    }
    expect(payers.reduce((sum, payer) => sum + payer.requests, 0)).toBe(CALLS);

    // Each key's lifetime spend is the sum of its rows.
    expect(
      await queryOnce(
        database.url,
        `SELECT k.id, k.spent_dollar::text AS spent_dollar, COALESCE(sum(e.total_cost), 0)::text AS rows
         FROM api_keys k LEFT JOIN usage_events e ON e.api_key_id = k.id
         WHERE k.id = ANY ($1::uuid[])
         GROUP BY k.id HAVING k.spent_dollar <> COALESCE(sum(e.total_cost), 0)`,
        [keys],
      ),
    ).toEqual([]);

    // The organization's month spend is the sum of the rows billed to it.
    const organizations = [
      ...new Set(load.calls.flatMap((call) => call.lane.organizationId ?? [])),
    ];
    expect(organizations).toHaveLength(1);
    expect(
      await queryOnce(
        database.url,
        `SELECT o.id, s.amount::text AS month_spend, r.cost::text AS rows
         FROM organizations o
         CROSS JOIN LATERAL (SELECT COALESCE(sum(amount), 0) AS amount
                             FROM organization_monthly_spend WHERE organization_id = o.id) s
         CROSS JOIN LATERAL (SELECT COALESCE(sum(total_cost), 0) AS cost, count(*) AS requests
                             FROM usage_events WHERE organization_id = o.id) r
         WHERE o.id = ANY ($1::uuid[]) AND (s.amount <> r.cost OR r.requests = 0)`,
        [organizations],
      ),
    ).toEqual([]);

    // The daily and hourly rollups count exactly the rows, per key, payer and organization.
    for (const rollup of ['usage_daily', 'usage_hourly']) {
      const groups = await queryOnce<{ differs: boolean }>(
        database.url,
        `WITH e AS (
           SELECT api_key_id, payer_user_id,
             COALESCE(organization_id, '00000000-0000-0000-0000-000000000000') AS org,
             count(*)::bigint AS requests, sum(input_tokens)::bigint AS input_tokens,
             sum(output_tokens)::bigint AS output_tokens, sum(total_cost) AS cost
           FROM usage_events WHERE api_key_id = ANY ($1::uuid[]) GROUP BY 1, 2, 3),
         r AS (
           SELECT api_key_id, payer_user_id,
             COALESCE(organization_id, '00000000-0000-0000-0000-000000000000') AS org,
             sum(requests)::bigint AS requests, sum(input_tokens)::bigint AS input_tokens,
             sum(output_tokens)::bigint AS output_tokens, sum(cost) AS cost
           FROM ${rollup} WHERE api_key_id = ANY ($1::uuid[]) GROUP BY 1, 2, 3)
         SELECT '${rollup}' AS rollup, api_key_id, payer_user_id, org,
           e.requests AS rows, r.requests AS rolled_up, e.cost::text AS rows_cost,
           r.cost::text AS rolled_up_cost,
           (e.requests, e.input_tokens, e.output_tokens, e.cost)
             IS DISTINCT FROM (r.requests, r.input_tokens, r.output_tokens, r.cost) AS differs
         FROM e FULL JOIN r USING (api_key_id, payer_user_id, org)`,
        [keys],
      );
      expect(groups).toHaveLength(3);
      expect(groups.filter((group) => group.differs)).toEqual([]);
    }
  }

  /**
   * Sent again, each call the fault touched (it took more than one attempt) and every tenth
   * other call answers its 201 again, as a replay; `expectExactLedger` then shows nothing more
   * was written.
   */
  async function expectReplays(load: UsageLoad): Promise<number> {
    const calls = load.calls.filter(
      (call, i) => i % 10 === 0 || (load.acknowledged.get(call.requestId)?.attempts ?? 0) > 1,
    );
    const again = await load.resend(calls);
    const wrong = again
      .map((attempt) => ({ attempt, ack: load.acknowledged.get(attempt.requestId) }))
      .filter(({ attempt, ack }) => {
        return attempt.status !== 201 || !attempt.replayed || attempt.text !== ack?.text;
      })
      .map(({ attempt, ack }) => ({
        request_id: attempt.requestId,
        status: attempt.status,
        replayed: attempt.replayed,
        text: attempt.text,
        first: ack?.text,
      }));
    expect({ wrong: wrong.length, examples: wrong.slice(0, 3) }).toEqual({
      wrong: 0,
      examples: [],
    });
    return calls.length;
  }

  function describeRun(name: string, load: UsageLoad, extra: string): void {
    report.push(`${name}: ${load.summary()}; ${extra}`);
  }

  /** Notes how long each step took, for the report (and for a test that times out). */
  function stepTimer(name: string): (step: string) => void {
    let last = performance.now();
    return (step) => {
      const now = performance.now();
      report.push(`${name}: ${step} in ${Math.round(now - last)} ms`);
      last = now;
    };
  }

  it(
    'loses and doubles nothing when the service is SIGKILLed mid-load and started again',
    async () => {
      const step = stepTimer('SIGKILL');
      const port = await freePort();
      const first = startService(port);
      await first.ready();
      step('service ready');
      const lanes = await createUsageLanes(new Http(first.baseUrl));
      const before = await payerBalances(database.url, lanes);
      step('tenants created');

      const load = newLoad(first.baseUrl, lanes);
      const running = load.run();
      await load.until(FAULT_AFTER);
      step(`${FAULT_AFTER} acknowledged`);
      await first.kill('SIGKILL');
      const killedAt = performance.now();
      const acknowledgedAtKill = load.acknowledged.size;
      await sleep(300);
      const second = startService(port);
      const restartMs = await second.ready();
      const backAt = performance.now();
      step('killed and started again');
      await running;
      step('load done');
      describeRun(
        'SIGKILL',
        load,
        `killed after ${acknowledgedAtKill} acknowledged, the new process ready in ${restartMs} ms`,
      );

      // The kill landed in a running load: calls were still to come and clients saw it.
      expect(acknowledgedAtKill).toBeLessThan(CALLS - 200);
      const refusedConnections = load
        .attemptsBetween(killedAt, backAt)
        .filter((attempt) => attempt.status === null);
      expect(refusedConnections.length).toBeGreaterThan(0);
      expect(first.running()).toBe(false);
      expect(second.running()).toBe(true);

      await expectExactLedger(load, before);
      step('ledger checked');
      const replayed = await expectReplays(load);
      step(`${replayed} calls sent again`);
      await expectExactLedger(load, before);
      await second.stop();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers 503 at once while Postgres is down, then recovers without a restart, losing and doubling nothing',
    async () => {
      const step = stepTimer('Postgres stopped');
      const port = await freePort();
      const service = startService(port, { DB_CONNECT_TIMEOUT_MS: '1000' });
      await service.ready();
      step('service ready');
      const lanes = await createUsageLanes(new Http(service.baseUrl));
      const before = await payerBalances(database.url, lanes);
      step('tenants created');

      const load = newLoad(service.baseUrl, lanes);
      const running = load.run();
      await load.until(FAULT_AFTER);
      step(`${FAULT_AFTER} acknowledged`);
      const stoppingAt = performance.now();
      const acknowledgedAtStop = load.acknowledged.size;
      await database.stop();
      const downAt = performance.now();

      const readyStarted = performance.now();
      const ready = await fetch(`${service.baseUrl}/api/health/ready`, {
        signal: AbortSignal.timeout(10_000),
      }).then(
        async (response) => ({ status: response.status, body: await response.json() }),
        (error: { cause?: { code?: string } }) => ({ status: null, body: error.cause?.code }),
      );
      const readyMs = performance.now() - readyStarted;
      await sleep(Math.max(0, POSTGRES_DOWN_MS - (performance.now() - downAt)));
      // The process outlives its database (else the load would only time out).
      const survived = service.running();
      expect({ survived, output: survived ? '' : service.output().slice(-4000) }).toEqual({
        survived: true,
        output: '',
      });

      const upAt = performance.now();
      database = await startEmbeddedPostgres(dataDir);
      const backAt = performance.now();
      step('Postgres stopped and started again');
      await running;
      step('load done');
      const firstAfter = Math.min(
        ...load
          .attemptsBetween(backAt, Infinity)
          .filter((attempt) => attempt.status === 201)
          .map((attempt) => attempt.ended),
      );
      describeRun(
        'Postgres stopped',
        load,
        `stopped after ${acknowledgedAtStop} acknowledged for ${Math.round(upAt - downAt)} ms, ` +
          `first 201 ${Math.round(firstAfter - backAt)} ms after it was back`,
      );

      // Back without a restart: the same process answered the rest, and exactly.
      expect(service.running()).toBe(true);
      expect(firstAfter - backAt).toBeLessThan(10_000);
      expect(acknowledgedAtStop).toBeLessThan(CALLS - 200);
      await expectExactLedger(load, before);
      step('ledger checked');
      const replayed = await expectReplays(load);
      step(`${replayed} calls sent again`);
      await expectExactLedger(load, before);

      // While it was down, the readiness probe and every call were answered at once with the
      // contract's 503.
      expect(ready).toEqual({
        status: 503,
        body: expect.objectContaining({ status: 503, code: 'service_unavailable' }),
      });
      expect(readyMs).toBeLessThan(FAST_MS);
      const whileDown = load.attemptsBetween(downAt, upAt);
      const answeredWhileDown = whileDown.filter((attempt) => attempt.ended < upAt);
      expect(answeredWhileDown.length).toBeGreaterThan(CLIENTS);
      expect(
        answeredWhileDown.filter((attempt) => !isContract503(attempt, UNAVAILABLE)).slice(0, 5),
      ).toEqual([]);
      const slow = whileDown.filter((attempt) => attempt.ended - attempt.started >= FAST_MS);
      expect(slow.slice(0, 5)).toEqual([]);

      // Every answer of the load, those to calls caught by the shutdown included, was a 201 or
      // the contract's 503: a database going away is not a 500.
      const otherAnswers = load.attempts
        .filter((attempt) => attempt.status !== 201 && !isContract503(attempt, UNAVAILABLE))
        .map((attempt) => ({
          status: attempt.status,
          text: attempt.text,
          started_ms_after_stop: Math.round(attempt.started - stoppingAt),
          ended_ms_after_stop: Math.round(attempt.ended - stoppingAt),
        }));
      // The service's log from its first error on, stack included, as evidence.
      const lines = service.output().split('\n');
      const firstError = lines.findIndex(
        (line) => /error/i.test(line) && !/Database unavailable/.test(line),
      );
      const errorLog = firstError < 0 ? [] : lines.slice(firstError, firstError + 15);
      expect({
        answers: otherAnswers.slice(0, 5),
        log: otherAnswers.length > 0 ? errorLog : [],
      }).toEqual({ answers: [], log: [] });
      await service.stop();
    },
    TEST_TIMEOUT_MS,
  );
});
