// `npm run bench`: load-tests the built service against a NestJS yardstick and a bare Fastify
// baseline, in one run on this machine, checks in Postgres what the answers promise, and prints
// a Markdown table (also written to bench/results/latest.md). Method and knobs: bench/README.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  checkReservations,
  checkUsage,
  databaseNow,
  newTally,
  reservationRowCount,
  settle,
  usageRowCount,
} from './checks.mjs';
import { freePort } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.md');

const DURATION = positiveInt('BENCH_DURATION', 10);
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50);
const WARMUP_SECONDS = 2;
const DATABASE_URL = process.env.BENCH_DATABASE_URL?.trim() || undefined;
const COMPARE_ENV = process.env.BENCH_COMPARE_ENV?.trim() || undefined;
/** `1,2`: the service once per worker count (`WEB_CONCURRENCY`), the same scenarios each time. */
const WORKERS = workerCounts(process.env.BENCH_WORKERS);
/**
 * The Redis of the scale-out runs: `BENCH_REDIS_URL`, else `REDIS_URL`, else the machine's at
 * 127.0.0.1:6379 when it answers a PING; `off`: none.
 */
const REDIS_SETTING = process.env.BENCH_REDIS_URL?.trim() || undefined;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Extra `node` flags for the service only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
const SERVICE_NODE_ARGS = process.env.BENCH_SERVICE_NODE_ARGS?.trim().split(/\s+/) ?? [];
/** Users (each with one key) the 20-payer log-usage load is spread over. */
const USAGE_PAYERS = 20;
/** Credit of each log-usage payer, and of the payer whose auth calls reserve. */
const USAGE_CREDIT = 1000;
const RESERVE_CREDIT = 1_000_000;
const MAX_TOKENS = 200;

// The bodies of the original guard document's two Python snippets.
const MODEL = 'cogvlm-chat-17b';
const MESSAGES = [
  {
    role: 'system',
    content:
      'You are a poetic assistant, skilled in explaining complex programming concepts with creative flair.',
  },
  {
    role: 'user',
    content: 'Compose a poem that explains the concept of recursion in programming.',
  },
];
const AUTH_BODY = JSON.stringify({ model: MODEL, messages: MESSAGES });
const USAGE_FIELDS = {
  model: MODEL,
  temperature: 0.7,
  top_p: 0.9,
  input_cost: 0.5,
  output_cost: 0.3,
  total_cost: 0.8,
  input_tokens: 100,
  output_tokens: 80,
  max_tokens: 200,
};

/** `tag → body`: the JSON of `object` with the request's tag where `TAG` stands. */
const TAG = '\u0000tag\u0000';
function tagged(object) {
  const [head, tail] = JSON.stringify(object).split(JSON.stringify(TAG));
  return (tag) => `${head}"${tag}"${tail}`;
}
/** The seed auth body plus `max_tokens` and a `request_id` of its own per request. */
const RESERVE_BODY = tagged({
  model: MODEL,
  messages: MESSAGES,
  max_tokens: MAX_TOKENS,
  request_id: TAG,
});
/** The seed log-usage body; the user message gets a `name`, the request's tag (stored with it). */
const USAGE_BODY = tagged({
  ...USAGE_FIELDS,
  messages: [MESSAGES[0], { ...MESSAGES[1], name: TAG }],
});

const usageIdOf = (body) => /"id":"([^"]+)"/.exec(body)?.[1] ?? null;
const reservationIdOf = (body) => /"reservation":\{"id":"([^"]+)"/.exec(body)?.[1] ?? null;

/**
 * The service scenarios, run in this order against each service started. `traffic` gives the
 * request (autocannon options, plus `tagged` for one body per request); `yardstick` names the
 * yardstick run with the same body and per-request setup; `check` what is checked in Postgres.
 */
const SCENARIOS = [
  {
    id: 'live',
    name: '`GET /api/health/live`',
    yardstick: 'empty',
    traffic: () => ({ path: '/api/health/live' }),
  },
  {
    id: 'auth',
    name: '`POST /api/guard/auth`, no reservation',
    yardstick: 'auth',
    traffic: ({ demo }) => ({
      path: '/api/guard/auth',
      method: 'POST',
      headers: guardHeaders(demo.api_key, demo.secret_key),
      body: AUTH_BODY,
    }),
  },
  {
    id: 'auth-reserve',
    name: `\`POST /api/guard/auth\` with \`max_tokens: ${MAX_TOKENS}\`, one payer`,
    yardstick: 'auth-reserve',
    check: 'reservations',
    traffic: ({ demo, reserver }) => ({
      path: '/api/guard/auth',
      method: 'POST',
      headers: guardHeaders(reserver.key, demo.secret_key),
      tagged: { keys: [reserver.key], body: RESERVE_BODY, answer: reservationIdOf },
    }),
  },
  {
    id: 'log-usage',
    name: `\`POST /api/guard/log-usage\`, ${USAGE_PAYERS} payers (a key each)`,
    yardstick: 'usage',
    check: 'usage',
    payers: ({ payers }) => payers,
    traffic: ({ demo, payers }) => ({
      path: '/api/guard/log-usage',
      method: 'POST',
      headers: guardHeaders(payers[0].key, demo.secret_key),
      tagged: { keys: payers.map((p) => p.key), body: USAGE_BODY, answer: usageIdOf },
    }),
  },
  {
    id: 'log-usage-1key',
    name: '`POST /api/guard/log-usage`, one payer (one key)',
    yardstick: 'usage',
    check: 'usage',
    payers: ({ payers }) => payers.slice(0, 1),
    traffic: ({ demo, payers }) => ({
      path: '/api/guard/log-usage',
      method: 'POST',
      headers: guardHeaders(payers[0].key, demo.secret_key),
      tagged: { keys: [payers[0].key], body: USAGE_BODY, answer: usageIdOf },
    }),
  },
];

/**
 * The yardstick runs: `POST /echo` on the NestJS app, each with the body, headers and
 * per-request setup of the scenario named (credentials of the same shape, which Nest ignores).
 */
const YARDSTICKS = {
  empty: { scenario: 'live', name: 'no body' },
  auth: { scenario: 'auth', name: 'the auth body' },
  'auth-reserve': { scenario: 'auth-reserve', name: 'the auth body with `max_tokens`' },
  usage: { scenario: 'log-usage', name: 'the log-usage body' },
};

/** The targets the numbers are read against (not a pass/fail of the run). */
const TARGETS = {
  'log-usage-1key': { rps: 3000, yardstick: 0.2, p99: 50 },
  'log-usage': { rps: 3000 },
  'auth-reserve': { rps: 3000, yardstick: 0.2 },
  auth: {},
};

function guardHeaders(apiKey, secretKey) {
  return { 'content-type': 'application/json', authorization: apiKey, secretkey: secretKey };
}

// ---------------------------------------------------------------------------------------------

const children = new Set();
let workDir;
let cleaning;
let runs = 0;

main().then(
  (exitCode) => cleanup().then(() => process.exit(exitCode)),
  (error) => fail(`\nBenchmark failed: ${error instanceof Error ? error.message : String(error)}`),
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers`);
    cleanup().then(() => process.exit(130));
  });
}
// A throw inside a load generator callback must still stop the servers.
process.once('uncaughtException', (error) => fail(`\nBenchmark failed: ${error.stack ?? error}`));
process.once('unhandledRejection', (error) => fail(`\nBenchmark failed: ${error}`));

function fail(message) {
  // After a signal, what breaks while the servers stop is no news.
  if (!cleaning) console.error(message);
  cleanup().then(() => process.exit(1));
}

async function main() {
  const scenarios = selectedScenarios();
  const variants = [{ label: undefined, env: {} }];
  if (COMPARE_ENV) variants.push({ label: COMPARE_ENV, env: parseEnvList(COMPARE_ENV) });
  if (WORKERS) {
    if (COMPARE_ENV) throw new Error('BENCH_WORKERS and BENCH_COMPARE_ENV: one at a time');
    if (WORKERS.some((n) => n > 1) && !process.env.REDIS_URL?.trim()) {
      throw new Error('BENCH_WORKERS with more than one worker needs REDIS_URL (as the service)');
    }
    variants.splice(
      0,
      1,
      ...WORKERS.map((n) => ({
        label: `WEB_CONCURRENCY=${n}`,
        env: { WEB_CONCURRENCY: String(n) },
        workers: n,
      })),
    );
  }
  // A run that compares settings of its own is that comparison only.
  const scaleOut = await scaleOutPlan(scenarios, { explicit: Boolean(COMPARE_ENV || WORKERS) });
  if (scaleOut.redisUrl) {
    // The rows before the scale-out ones count limits in process, whatever REDIS_URL says.
    variants[0].env = { REDIS_URL: '', WEB_CONCURRENCY: '' };
    for (const workers of [1, 2]) {
      variants.push({
        label: workers === 1 ? 'REDIS_URL' : `REDIS_URL WEB_CONCURRENCY=${workers}`,
        env: { REDIS_URL: scaleOut.redisUrl, WEB_CONCURRENCY: String(workers) },
        workers,
        redis: true,
        scenarios: scenarios.filter((s) => s.id === 'auth'),
      });
    }
  }

  workDir = await mkdtemp(join(os.tmpdir(), 'swarms-guard-bench-'));
  // When run as root, the embedded Postgres runs as the postgres user, which must reach DATA_DIR
  // (else the service keeps the cluster under /var/tmp, outside what this script removes).
  await chmod(workDir, 0o755);
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir, { mode: 0o755 }); // with a server Postgres, only the credentials land here
  const rows = [];

  // 1. The baseline, alone on the machine.
  const bareUrl = `http://127.0.0.1:${await freePort()}`;
  const bare = await startChild('bare-fastify', [join(ROOT, 'bench', 'bare-fastify.mjs')], {
    env: { ...process.env, PORT: new URL(bareUrl).port, HOST: '127.0.0.1' },
    readyUrl: `${bareUrl}/`,
  });
  rows.push({
    kind: 'bare',
    ...(await measure(
      'bare Fastify 5 `GET /` `{ok:true}`',
      { url: `${bareUrl}/` },
      undefined,
      bare,
    )),
  });
  await bare.stop();

  // 2. The yardstick, started now and measured around each service scenario (step 3).
  const yardstickUrl = `http://127.0.0.1:${await freePort()}`;
  const yardstick = await startChild('nest-echo', [join(ROOT, 'bench', 'nest-echo.mjs')], {
    env: { ...process.env, PORT: new URL(yardstickUrl).port, HOST: '127.0.0.1' },
    readyUrl: `${yardstickUrl}/echo`,
    readyMethod: 'POST',
  });
  const placeholders = placeholderFixtures();
  let serviceRuns = 0;
  let lastYardstick;
  /** A yardstick run with `id`'s body: the last one, when no service run came after it. */
  const yardstickRun = async (id) => {
    if (lastYardstick?.id === id && lastYardstick.serviceRuns === serviceRuns) {
      return lastYardstick.row;
    }
    const shape = SCENARIOS.find((s) => s.id === YARDSTICKS[id].scenario).traffic(placeholders);
    const target = { ...shape, url: yardstickUrl, path: '/echo', method: 'POST' };
    const name = `yardstick: NestJS on Fastify \`POST /echo\`, ${YARDSTICKS[id].name}`;
    const row = {
      kind: 'yardstick',
      yardstick: id,
      ...(await measure(name, target, undefined, yardstick)),
    };
    rows.push(row);
    lastYardstick = { id, row, serviceRuns };
    return row;
  };

  // 3. The service, once per env variant; the second reuses the first one's database and users.
  const adminToken = DATABASE_URL
    ? (process.env.ADMIN_TOKEN ?? randomBytes(24).toString('hex'))
    : '';
  let fixtures;
  for (const variant of variants) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = serviceEnv({ dataDir, port, adminToken, extra: variant.env });
    if (DATABASE_URL && !fixtures) {
      await runToEnd('migrate', ['dist/database/migrate.cli.js'], env);
      await runToEnd('seed-demo', ['dist/demo/seed-demo.cli.js'], env);
    }
    const service = await startChild('service', [...SERVICE_NODE_ARGS, 'dist/main.js'], {
      env,
      readyUrl: `${base}/api/health/ready`,
      // A killed service leaves its embedded Postgres running: stop that too.
      afterKill: DATABASE_URL ? undefined : () => stopOrphanPostgres(dataDir),
    });
    const db = await connectDatabase(dataDir);
    try {
      fixtures ??= await createFixtures(base, dataDir, db, adminToken);
      for (const scenario of variant.scenarios ?? scenarios) {
        const name = variant.label ? `${scenario.name} with \`${variant.label}\`` : scenario.name;
        const target = { url: base, ...scenario.traffic(fixtures) };
        // The yardstick just before and just after: the machine's speed moves within minutes.
        const before = await yardstickRun(scenario.yardstick);
        const row = {
          kind: 'service',
          scenario: scenario.id,
          workers: variant.workers,
          scaleOut: variant.redis ? 'redis' : undefined,
          ...(await measure(name, target, scenarioCheck(scenario, db, fixtures), service, {
            sample: variant.redis ? scaleOut.sample : undefined,
          })),
        };
        rows.push(row);
        serviceRuns++;
        row.around = [before, await yardstickRun(scenario.yardstick)];
      }
    } finally {
      // Before the service stops its Postgres, which would drop this connection under us.
      await db.end().catch(() => undefined);
    }
    await service.stop();
  }
  await yardstick.stop();
  await scaleOut.close();

  const report = await formatReport(rows, scaleOut);
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, report);
  process.stdout.write(`\n${report}`);
  console.error(`Written to ${RESULTS_FILE}`);
  const flagged = rows.filter((row) => row.flagged);
  const failed = rows.filter((row) => row.check && !row.check.ok);
  for (const row of flagged) console.error(`FLAGGED: ${row.name}: non-2xx answers or errors`);
  for (const row of failed) console.error(`FAIL: ${row.name}: the rows do not match the answers`);
  return flagged.length > 0 || failed.length > 0 ? 1 : 0;
}

function selectedScenarios() {
  const wanted = process.env.BENCH_SCENARIOS?.trim();
  if (!wanted) return SCENARIOS;
  const ids = wanted.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_SCENARIOS: unknown ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.id).join(', ')})`,
    );
  }
  return SCENARIOS.filter((s) => ids.includes(s.id));
}

/**
 * Whether the auth scenario runs again with the Redis limiter, one process then two workers:
 * `redisUrl` when it does, with `sample` (Redis's command and CPU counters) and `close`;
 * `note` says why not. A Redis named in the environment must answer; the default one may not.
 */
async function scaleOutPlan(scenarios, { explicit }) {
  const none = (note) => ({ note, close: async () => undefined });
  if (!scenarios.some((s) => s.id === 'auth')) return none('`auth` is not among BENCH_SCENARIOS');
  if (explicit) return none('BENCH_COMPARE_ENV or BENCH_WORKERS makes the run that comparison');
  if (REDIS_SETTING === 'off') return none('BENCH_REDIS_URL=off');
  const named = REDIS_SETTING ?? (process.env.REDIS_URL?.trim() || undefined);
  const redisUrl = named ?? DEFAULT_REDIS_URL;
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the connect or PING below reports it
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    if (named) throw new Error(`Redis at ${redact(redisUrl)}: ${error.message}`);
    return none(`no Redis answered at ${DEFAULT_REDIS_URL}`);
  }
  console.error(`Scale-out runs on Redis at ${redact(redisUrl)}`);
  return {
    redisUrl,
    named: Boolean(named),
    sample: async () => redisCounters(await client.info('commandstats'), await client.info('cpu')),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** Commands run (all but INFO, which the sampling itself sends), EVALSHA's, and CPU seconds. */
function redisCounters(commandstats, cpu) {
  const counters = { calls: 0, evalshaCalls: 0, evalshaUsec: 0, cpuSeconds: 0 };
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const [, command, calls, usec] = match;
    if (command === 'info') continue;
    counters.calls += Number(calls);
    if (command === 'evalsha') {
      counters.evalshaCalls += Number(calls);
      counters.evalshaUsec += Number(usec);
    }
  }
  for (const match of cpu.matchAll(/^used_cpu_(?:sys|user):([\d.]+)/gm)) {
    counters.cpuSeconds += Number(match[1]);
  }
  return counters;
}

/** Per request of a run, from the counters before and after it. */
function redisPerRequest(before, after, requests) {
  const evalsha = after.evalshaCalls - before.evalshaCalls;
  return {
    commands: (after.calls - before.calls) / requests,
    evalsha: evalsha / requests,
    usecPerEvalsha: evalsha > 0 ? (after.evalshaUsec - before.evalshaUsec) / evalsha : undefined,
    cpuMicros: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / requests,
  };
}

/** `1,2` → [1, 2] (unset: undefined). */
function workerCounts(text) {
  if (!text?.trim()) return undefined;
  const counts = text.split(',').map((n) => n.trim());
  if (counts.some((n) => !/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 64)) {
    throw new Error(`BENCH_WORKERS: expected worker counts such as 1,2 (got "${text}")`);
  }
  return counts.map(Number);
}

/** `A=1 B=two` → { A: '1', B: 'two' } */
function parseEnvList(text) {
  const env = {};
  for (const pair of text.split(/\s+/)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
    if (!match) throw new Error(`BENCH_COMPARE_ENV: expected NAME=value, got "${pair}"`);
    env[match[1]] = match[2];
  }
  return env;
}

function serviceEnv({ dataDir, port, adminToken, extra }) {
  // The caller's environment passes through, so any setting of the service can be tried.
  const env = {
    // Reservations must outlive the run (the check wants every answered one still open).
    RESERVATION_TTL_SECONDS: '86400',
    // A free port of its own: another service on the machine may hold the default one.
    METRICS_PORT: '0',
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The per-key rate limit would otherwise answer 429 within the first second.
    DEFAULT_RPM_LIMIT: '10000000',
  };
  if (DATABASE_URL) {
    env.DATABASE_URL = DATABASE_URL;
    env.ADMIN_TOKEN = adminToken;
  } else {
    delete env.DATABASE_URL;
  }
  return { ...env, ...extra };
}

// --- load ------------------------------------------------------------------------------------

/**
 * A warm-up run (its numbers discarded), then the measured run. With `check`, the rows both runs
 * wrote are checked against their answers once the last in-flight requests have committed.
 */
/**
 * One scenario: warm-up, then the measured run; `server` (a started child) is the process
 * whose CPU time, with its Node children (cluster workers), is read around the measured run.
 */
async function measure(name, target, check, server, { sample } = {}) {
  const preflight = await probe(sampleRequest(target));
  if (preflight) console.error(`  ${name}: a first request answered ${preflight}`);
  const since = check && (await databaseNow(check.db));
  console.error(`${name}: ${WARMUP_SECONDS} s warm-up`);
  const warmupTally = newTally(`r${++runs}`);
  const warmup = await load(target, warmupTally, WARMUP_SECONDS);
  let measuredSince;
  if (check) {
    await settle(() => check.count(since));
    measuredSince = await databaseNow(check.db);
  }
  console.error(`${name}: ${DURATION} s, ${CONNECTIONS} connections`);
  const tally = newTally(`r${++runs}`);
  const cpuBefore = await cpuTimes(server?.child.pid);
  const sampleBefore = await sample?.();
  const result = await load(target, tally, DURATION);
  const cpuAfter = await cpuTimes(server?.child.pid);
  const sampleAfter = await sample?.();
  const requests = result.requests.total;
  const row = {
    name,
    redis:
      sample && requests > 0 ? redisPerRequest(sampleBefore, sampleAfter, requests) : undefined,
    cpuPerRequest:
      cpuBefore && cpuAfter && requests > 0
        ? {
            server: (cpuAfter.server - cpuBefore.server) / requests,
            postgres: (cpuAfter.postgres - cpuBefore.postgres) / requests,
          }
        : undefined,
    rps: result.requests.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    warmupProblems: warmup.non2xx + warmup.errors,
    statusCodes: Object.keys(result.statusCodeStats)
      .filter((code) => !code.startsWith('2'))
      .join(', '),
  };
  row.flagged = row.non2xx > 0 || row.errors > 0;
  if (check) {
    await settle(() => check.count(since));
    row.check = {
      kind: check.kind,
      ...(await check.verify({ since, measuredSince, tallies: [warmupTally, tally] })),
    };
    if (!row.check.ok) {
      for (const problem of row.check.problems) console.error(`FAIL ${name}: ${problem}`);
    }
  }
  return row;
}

function load(target, tally, seconds) {
  const { url, path = '', tagged: perRequest, ...options } = target;
  return autocannon({
    ...options,
    url: new URL(path, url).href,
    connections: CONNECTIONS,
    duration: seconds,
    ...(perRequest ? { requests: [taggedRequest(perRequest, tally)] } : {}),
  });
}

/**
 * One request template whose tag, body and key change on every request, across all
 * connections; each answer is recorded by the tag of the request it answers (one request in
 * flight per connection, so the connection's context still holds it).
 */
function taggedRequest({ keys, body, answer }, tally) {
  return {
    setupRequest: (request, context) => {
      const n = tally.sent++;
      context.tag = `${tally.prefix}-${n}`;
      request.headers.authorization = keys[n % keys.length];
      request.body = body(context.tag);
      return request;
    },
    onResponse: (status, responseBody, context) => {
      const ok = status >= 200 && status < 300;
      tally.answers.set(context.tag, ok ? answer(responseBody) : null);
    },
  };
}

/** The request a probe sends: the template's first, with a tag no load run uses. */
function sampleRequest({ url, path = '', method = 'GET', headers, body, tagged: perRequest }) {
  return {
    url: new URL(path, url),
    method,
    headers,
    body: perRequest ? perRequest.body(`probe-${randomBytes(4).toString('hex')}`) : body,
  };
}

/** One plain request, so a wrong answer shows its body rather than just a count. */
async function probe({ url, method, headers, body }) {
  try {
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    return response.ok ? undefined : `${response.status} ${text.slice(0, 300)}`;
  } catch (error) {
    return String(error);
  }
}

// --- checks ----------------------------------------------------------------------------------

function scenarioCheck(scenario, db, fixtures) {
  if (scenario.check === 'usage') {
    const payers = scenario.payers(fixtures);
    const keyIds = payers.map((p) => p.keyId);
    return {
      kind: 'usage',
      db,
      count: (since) => usageRowCount(db, keyIds, since),
      verify: (window) => checkUsage(db, { keyIds, payers, ...window }),
    };
  }
  if (scenario.check === 'reservations') {
    const payer = fixtures.reserver;
    return {
      kind: 'reservations',
      db,
      count: (since) => reservationRowCount(db, [payer.keyId], since),
      verify: (window) => checkReservations(db, { keyId: payer.keyId, payer, ...window }),
    };
  }
  return undefined;
}

async function connectDatabase(dataDir) {
  const options = DATABASE_URL
    ? { connectionString: DATABASE_URL }
    : await embeddedConnection(dataDir);
  const client = new pg.Client(options);
  client.on('error', () => undefined); // a dropped connection must not crash the run
  await client.connect();
  return client;
}

async function embeddedConnection(dataDir) {
  const { port, password } = JSON.parse(
    await readFile(join(dataDir, 'embedded-postgres.json'), 'utf8'),
  );
  return { host: '127.0.0.1', port, user: 'postgres', password, database: 'guard' };
}

// --- service setup -----------------------------------------------------------------------------

/**
 * The demo's credentials, the log-usage payers (a user with credit and one key each) and the
 * payer whose auth calls reserve, with each payer's balance before the benchmark (as text).
 */
async function createFixtures(base, dataDir, db, adminToken) {
  const demo = JSON.parse(await readFile(join(dataDir, 'demo-credentials.json'), 'utf8'));
  // With a database of its own the run sets ADMIN_TOKEN (kept out of the credentials file);
  // on the embedded one the service generated it.
  const token = adminToken || demo.admin_token;
  if (!token) throw new Error('demo-credentials.json has no admin_token');
  const admin = adminClient(base, token);
  const payer = async (name, amount) => {
    const user = await admin('POST', '/api/admin/users', {});
    await admin('POST', `/api/admin/users/${user.id}/credits`, { amount });
    const key = await admin('POST', '/api/admin/api-keys', { user_id: user.id, name });
    return { userId: user.id, keyId: key.id, key: key.key };
  };
  console.error(`Creating ${USAGE_PAYERS + 1} users with a key each`);
  const payers = [];
  for (let i = 0; i < USAGE_PAYERS; i++) payers.push(await payer(`bench-${i}`, USAGE_CREDIT));
  const reserver = await payer('bench-reserve', RESERVE_CREDIT);

  const all = [...payers, reserver];
  const { rows } = await db.query(
    `SELECT user_id::text AS user_id, (paid + free)::text AS balance
     FROM user_credits WHERE user_id = ANY($1::uuid[])`,
    [all.map((p) => p.userId)],
  );
  const balances = new Map(rows.map((row) => [row.user_id, row.balance]));
  for (const p of all) {
    p.startBalance = balances.get(p.userId);
    if (p.startBalance === undefined) throw new Error(`no user_credits row for ${p.userId}`);
  }
  return { demo, payers, reserver };
}

/** Credentials of the same shape as the real ones, for the yardstick (which ignores them). */
function placeholderFixtures() {
  const apiKey = () => `sk-${randomBytes(32).toString('hex')}`;
  const payers = Array.from({ length: USAGE_PAYERS }, () => ({ key: apiKey() }));
  return {
    demo: { api_key: apiKey(), secret_key: `ss-${randomBytes(32).toString('hex')}` },
    payers,
    reserver: { key: apiKey() },
  };
}

function adminClient(base, token) {
  return async (method, path, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
}

// --- child processes ---------------------------------------------------------------------------

/** Starts `node args…`, logging to a file, and waits until `readyUrl` answers 2xx. */
async function startChild(name, args, { env, readyUrl, readyMethod = 'GET', afterKill }) {
  // Once cleanup has begun, a new child would outlive this process.
  if (cleaning) throw new Error('stopping');
  const log = join(workDir, `${name}-${Date.now()}.log`);
  const fd = openSync(log, 'a');
  // Own process group: Ctrl-C reaches only this script, which then stops the child in order.
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const handle = { name, child, exited, log, stop: () => stopChild(handle, afterKill) };
  children.add(handle);

  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before it was ready:\n${await tail(log)}`);
    }
    const ready = await fetch(readyUrl, { method: readyMethod }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return handle;
    if (Date.now() > deadline) throw new Error(`${name} not ready in 180 s:\n${await tail(log)}`);
    await sleep(250);
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // Linux's USER_HZ

/**
 * CPU seconds (user + system) used so far by the process `pid` and its Node descendants, and by
 * every Postgres process of the machine, from /proc; undefined where there is no /proc.
 */
async function cpuTimes(pid) {
  if (pid === undefined || !existsSync('/proc/self/stat')) return undefined;
  const { readdir } = await import('node:fs/promises');
  const stats = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (text === null) continue;
    // pid (comm) state ppid ... utime stime: fields 14 and 15, counted after the comm's ")".
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    // cutime and cstime: the time of its children that have exited and been waited for.
    const exited = (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
    stats.push({ pid: Number(entry), ppid: Number(fields[1]), comm, seconds, exited });
  }
  const ours = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const stat of stats) {
      if (!ours.has(stat.pid) && ours.has(stat.ppid) && stat.comm.startsWith('node')) {
        ours.add(stat.pid);
        grew = true;
      }
    }
  }
  const sum = (filter) => stats.filter(filter).reduce((total, stat) => total + stat.seconds, 0);
  const isPostgres = (stat) => stat.comm.startsWith('postgres');
  const postgresPids = new Set(stats.filter(isPostgres).map((stat) => stat.pid));
  // A backend or autovacuum worker that exits during the run takes its time out of the sum of
  // the live processes and into its postmaster's count of exited children: add that count.
  const exitedBackends = stats
    .filter((stat) => isPostgres(stat) && !postgresPids.has(stat.ppid))
    .reduce((total, stat) => total + stat.exited, 0);
  return {
    server: sum((stat) => ours.has(stat.pid)),
    postgres: sum(isPostgres) + exitedBackends,
  };
}

/** SIGTERM and wait for the exit, so the service shuts its embedded Postgres down. */
async function stopChild(handle, afterKill) {
  const { child } = handle;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timedOut = await Promise.race([
      handle.exited.then(() => false),
      sleep(30_000, true, { ref: false }),
    ]);
    if (timedOut) {
      console.error(`${handle.name} ignored SIGTERM for 30 s; killing it`);
      child.kill('SIGKILL');
      await handle.exited;
      await afterKill?.();
    }
  }
  children.delete(handle);
}

async function stopOrphanPostgres(dataDir) {
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.kill(pid, 'SIGINT'); // Postgres' "fast" shutdown
  for (let i = 0; i < 100 && alive(); i++) await sleep(100);
}

/** Runs `node args…` to completion (migrations, seeding); fails on a non-zero exit. */
async function runToEnd(name, args, env) {
  console.error(`Running ${args[0]}`);
  const log = join(workDir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args[0]} exited with ${code}:\n${await tail(log)}`);
}

async function tail(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

function cleanup() {
  cleaning ??= (async () => {
    for (const handle of [...children].reverse()) {
      await handle.stop().catch((error) => console.error(`stopping ${handle.name}: ${error}`));
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

function positiveInt(name, fallback) {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new Error(`${name} must be a positive integer (got "${raw}")`);
  }
  return Number(raw);
}

// --- report ------------------------------------------------------------------------------------

const number = (n) => Math.round(n).toLocaleString('en-US');
const ratio = (n) => `${n.toFixed(2)}×`;

async function formatReport(rows, scaleOut) {
  const bare = rows.find((row) => row.kind === 'bare');
  /** A service row's req/s over the mean of the yardstick runs just before and after it. */
  const vsYardstick = (row) => {
    const yardstickRps = row.around && (row.around[0].rps + row.around[1].rps) / 2;
    return yardstickRps > 0 ? row.rps / yardstickRps : undefined;
  };
  const cpus = os.cpus();
  const database = DATABASE_URL ? `Postgres at ${redact(DATABASE_URL)}` : 'embedded Postgres';
  const lines = [
    '# Swarms Guard load benchmark',
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${cpus.length} CPUs ` +
      `(${cpus[0]?.model.trim() ?? 'unknown'}) · ${os.type()} ${os.release()}`,
    '',
    `autocannon in the benchmark process, ${CONNECTIONS} connections, ${DURATION} s per scenario ` +
      `after a ${WARMUP_SECONDS} s warm-up; each server in a child process on the same machine, ` +
      `alone; ${database}. Rows in the order they ran. "vs yardstick": req/s over the mean of ` +
      `the NestJS \`POST /echo\` runs just before and just after, with the same body and ` +
      `per-request setup.`,
    '',
    '| scenario | req/s (mean) | latency p50 / p99 (ms) | non-2xx | errors | vs yardstick | vs bare Fastify | server CPU µs/req | Postgres CPU µs/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows
      .map((row) =>
        [
          row.flagged ? `**FLAGGED** ${row.name}` : row.name,
          number(row.rps),
          `${ms(row.p50)} / ${ms(row.p99)}`,
          row.non2xx > 0 ? `**${number(row.non2xx)}** (${row.statusCodes})` : '0',
          row.errors > 0 ? `**${number(row.errors)}**` : '0',
          vsYardstick(row) === undefined ? '—' : ratio(vsYardstick(row)),
          bare?.rps > 0 ? ratio(row.rps / bare.rps) : '—',
          row.cpuPerRequest ? micros(row.cpuPerRequest.server) : '—',
          row.cpuPerRequest && row.kind !== 'bare' ? micros(row.cpuPerRequest.postgres) : '—',
        ].join(' | '),
      )
      .map((cells) => `| ${cells} |`),
  ];

  const warmupNotes = rows.filter((row) => row.warmupProblems > 0);
  if (warmupNotes.length > 0) {
    lines.push('', 'Warm-up runs with non-2xx answers or errors:', '');
    for (const row of warmupNotes) lines.push(`- ${row.name}: ${number(row.warmupProblems)}`);
  }

  const targeted = rows.filter((row) => row.kind === 'service' && TARGETS[row.scenario]);
  if (targeted.length > 0) {
    lines.push(
      '',
      '## Targets',
      '',
      'Read against this run; they are no pass/fail of it (the machine is shared, the numbers ' +
        'move with its load). The checks below are.',
      '',
    );
    for (const row of targeted) lines.push(`- ${row.name}: ${targetText(row, vsYardstick(row))}`);
  }

  const checked = rows.filter((row) => row.check);
  if (checked.length > 0) {
    lines.push(
      '',
      '## Checks in Postgres',
      '',
      'Over the warm-up and the measured run of each scenario, once the requests still in ' +
        'flight at its end had committed:',
      '',
    );
    for (const row of checked) {
      lines.push(`- ${row.check.ok ? 'ok' : '**FAIL**'}: ${row.name}: ${checkText(row.check)}`);
      for (const problem of row.check.problems) lines.push(`  - ${problem}`);
    }
  }

  lines.push('', ...scaleOutSection(rows, scaleOut, vsYardstick));

  const byWorkers = rows.filter(
    (row) => row.kind === 'service' && row.workers !== undefined && !row.scaleOut,
  );
  if (byWorkers.length > 0) {
    lines.push(
      '',
      '## Per worker process',
      '',
      'Each scenario with `WEB_CONCURRENCY` workers: the aggregate req/s, what each worker ' +
        'does (aggregate ÷ workers), that against the yardstick (one process), and the ' +
        'aggregate against one worker. The load generator and Postgres run on the same cores.',
      '',
      '| scenario | workers | aggregate req/s | req/s per worker | per worker vs yardstick | vs 1 worker |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const row of byWorkers) {
      const one = byWorkers.find((r) => r.scenario === row.scenario && r.workers === 1);
      const perWorker =
        vsYardstick(row) === undefined ? '—' : ratio(vsYardstick(row) / row.workers);
      lines.push(
        `| ${SCENARIOS.find((s) => s.id === row.scenario).name} | ${row.workers} | ` +
          `${number(row.rps)} | ${number(row.rps / row.workers)} | ${perWorker} | ` +
          `${one?.rps > 0 ? ratio(row.rps / one.rps) : '—'} |`,
      );
    }
  }

  const batched = checked.filter((row) => row.check.batches);
  if (batched.length > 0) {
    lines.push(
      '',
      '## Rows per transaction',
      '',
      "The measured run's `usage_events` rows grouped by `xmin`, the transaction that wrote them:",
      '',
      '| scenario | rows | transactions | mean | p50 | p95 | max |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const row of batched) {
      const b = row.check.batches;
      lines.push(
        `| ${row.name} | ${number(b.rows)} | ${number(b.transactions)} | ${b.mean.toFixed(2)} | ` +
          `${b.p50} | ${b.p95} | ${b.max} |`,
      );
    }
  }
  return prettify(`${lines.join('\n')}\n`);
}

/**
 * Auth in process, with the Redis limiter in one process, and with it in two workers: auth per
 * process against the yardstick, what the Redis limiter costs per request, and the aggregate.
 */
function scaleOutSection(rows, scaleOut, vsYardstick) {
  const lines = ['## Scale-out', ''];
  if (!scaleOut.redisUrl) {
    lines.push(
      `Skipped: ${scaleOut.note}. With a Redis (\`BENCH_REDIS_URL\`, else \`REDIS_URL\`, else ` +
        `${DEFAULT_REDIS_URL} when it answers) and the \`auth\` scenario selected, the run ` +
        'measures auth again with the Redis limiter, in one process and in two workers.',
    );
    return lines;
  }
  const auth = rows.filter((row) => row.kind === 'service' && row.scenario === 'auth');
  const local = auth.find((row) => !row.scaleOut);
  const one = auth.find((row) => row.scaleOut && row.workers === 1);
  const two = auth.find((row) => row.scaleOut && row.workers === 2);
  const cell = (value, format) => (value === undefined ? '—' : format(value));
  const cpu = (row) => row?.cpuPerRequest?.server;
  lines.push(
    `${SCENARIOS.find((s) => s.id === 'auth').name}, the same key, in process and then on Redis ` +
      `at ${redact(scaleOut.redisUrl)}${scaleOut.named ? '' : ' (found there; BENCH_REDIS_URL=off skips it)'}. ` +
      'Redis columns: its counters (`INFO commandstats`, `INFO cpu`) read just before and just ' +
      'after the measured run, divided by its requests; they count every client of that Redis, ' +
      'and its commands count the calls a script makes as well as the EVALSHA that runs it.',
    '',
    '| auth | req/s | vs yardstick | server CPU µs/req | Redis commands/req | EVALSHA/req | Redis µs per EVALSHA | Redis CPU µs/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [label, row] of [
    ['limits in process, one process', local],
    ['Redis limiter, one process', one],
    ['Redis limiter, `WEB_CONCURRENCY=2`', two],
  ]) {
    if (!row) continue;
    lines.push(
      `| ${label} | ${number(row.rps)} | ${cell(vsYardstick(row), ratio)} | ` +
        `${cell(cpu(row), micros)} | ${cell(row.redis?.commands, (n) => n.toFixed(2))} | ` +
        `${cell(row.redis?.evalsha, (n) => n.toFixed(2))} | ` +
        `${cell(row.redis?.usecPerEvalsha, (n) => n.toFixed(1))} | ` +
        `${cell(row.redis?.cpuMicros, (n) => n.toFixed(1))} |`,
    );
  }
  lines.push('');
  if (local) {
    lines.push(
      `- Auth per process against the yardstick: ${cell(vsYardstick(local), ratio)} with limits ` +
        `in process${one ? `, ${cell(vsYardstick(one), ratio)} with the Redis limiter` : ''}.`,
    );
  }
  if (local && one) {
    const ratioOfRatios =
      vsYardstick(local) && vsYardstick(one) ? vsYardstick(one) / vsYardstick(local) : undefined;
    lines.push(
      `- The Redis limiter against the in-process one, per request: ` +
        `${ratio(one.rps / local.rps)} the req/s (${cell(ratioOfRatios, ratio)} of its ` +
        'yardstick ratio, which discounts the machine moving between the runs), ' +
        `${cell(cpu(one) !== undefined && cpu(local) !== undefined ? cpu(one) - cpu(local) : undefined, (s) => `${s >= 0 ? '+' : ''}${micros(s)}`)} µs of service CPU, ` +
        `and ${cell(one.redis?.cpuMicros, (n) => n.toFixed(1))} µs of Redis CPU.`,
    );
  }
  if (one && two) {
    lines.push(
      `- Aggregate auth on Redis: ${number(one.rps)} req/s with one worker, ${number(two.rps)} ` +
        `with two (${ratio(two.rps / one.rps)}), ` +
        `${cell(vsYardstick(two), (n) => ratio(n / 2))} the yardstick per worker. The load ` +
        'generator, Postgres, Redis and the workers share the cores: on 2 cores a second worker ' +
        'takes CPU from the others.',
    );
  }
  return lines;
}

function targetText(row, vsYardstick) {
  const target = TARGETS[row.scenario];
  const verdict = (met) => (met ? 'met' : '**missed**');
  const parts = [];
  if (target.rps !== undefined) {
    parts.push(
      `${number(row.rps)} req/s (≥ ${number(target.rps)}: ${verdict(row.rps >= target.rps)})`,
    );
  }
  if (target.yardstick !== undefined) {
    parts.push(
      vsYardstick === undefined
        ? 'no yardstick run'
        : // Three decimals: 0.199× is not written as the 0.20× it misses.
          `${vsYardstick.toFixed(3)}× the yardstick (≥ ${ratio(target.yardstick)}: ` +
            `${verdict(vsYardstick >= target.yardstick)})`,
    );
  }
  if (target.p99 !== undefined) {
    parts.push(`p99 ${ms(row.p99)} ms (≤ ${target.p99} ms: ${verdict(row.p99 <= target.p99)})`);
  }
  return parts.length > 0 ? parts.join(' · ') : 'measured; no number set';
}

function checkText(c) {
  const inFlight =
    `${number(c.inFlight + (c.untagged ?? 0))} of the ${number(c.unanswered)} requests ` +
    'still unanswered when the runs closed their connections';
  if (c.kind === 'usage') {
    const untagged = c.untagged > 0 ? ` (${number(c.untagged)} rows without their tag)` : '';
    return (
      `${number(c.rows)} rows = ${number(c.answered)} 2xx answers, each its \`id\`'s one row, ` +
      `+ ${inFlight}${untagged}; ${c.missing > 0 ? `${number(c.missing)} answers without a row; ` : ''}` +
      `debit = Σ \`total_cost\` checked for ${c.payers} payer${c.payers === 1 ? '' : 's'}`
    );
  }
  return (
    `${number(c.rows)} reservations = ${number(c.answered)} 200 answers, each its ` +
    `\`reservation.id\`'s one open row, + ${inFlight}; \`user_credits.reserved\` and ` +
    `\`api_keys.reserved\` checked against Σ amount of the payer's ${number(c.open)} open ` +
    `reservations (${c.reserved})`
  );
}

/** autocannon's latency histogram has 1 ms resolution: 0 means under a millisecond. */
function ms(value) {
  return value < 1 ? '<1' : String(value);
}

/** CPU seconds per request as whole microseconds. */
function micros(seconds) {
  return number(seconds * 1e6);
}

function redact(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Aligns the table as the repository's Prettier would, so the results file passes its check. */
async function prettify(markdown) {
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(RESULTS_FILE)) ?? {};
    return await prettier.format(markdown, { ...config, filepath: RESULTS_FILE });
  } catch {
    return markdown;
  }
}
