// `npm run bench`: load-tests the built service against a bare Fastify baseline, in one run on this
// machine, and prints a Markdown table (also written to bench/results/latest.md).
// Method and knobs: bench/README.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.md');

const DURATION = positiveInt('BENCH_DURATION', 10);
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50);
const WARMUP_SECONDS = 2;
const DATABASE_URL = process.env.BENCH_DATABASE_URL?.trim() || undefined;
const COMPARE_ENV = process.env.BENCH_COMPARE_ENV?.trim() || undefined;
/** Users (each with one key) the log-usage load is spread over. */
const USAGE_PAYERS = 20;

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
const USAGE_BODY = JSON.stringify({
  model: MODEL,
  temperature: 0.7,
  top_p: 0.9,
  input_cost: 0.5,
  output_cost: 0.3,
  total_cost: 0.8,
  input_tokens: 100,
  output_tokens: 80,
  max_tokens: 200,
  messages: MESSAGES,
});

/**
 * The service scenarios, run in this order against each service started. `usageKeys` names
 * the keys whose usage rows are counted afterwards; `requests` is autocannon's per-request list.
 */
const SCENARIOS = [
  {
    id: 'live',
    name: '`GET /api/health/live`',
    options: () => ({ path: '/api/health/live' }),
  },
  {
    id: 'auth',
    name: '`POST /api/guard/auth`',
    options: ({ demo }) => ({
      path: '/api/guard/auth',
      method: 'POST',
      headers: guardHeaders(demo.api_key, demo.secret_key),
      body: AUTH_BODY,
    }),
  },
  {
    id: 'log-usage',
    name: `\`POST /api/guard/log-usage\`, ${USAGE_PAYERS} keys of ${USAGE_PAYERS} payers`,
    usageKeys: ({ keys }) => keys,
    options: ({ demo, keys }) => ({
      path: '/api/guard/log-usage',
      method: 'POST',
      headers: guardHeaders(keys[0].key, demo.secret_key),
      body: USAGE_BODY,
      requests: [rotatingKey(keys.map((k) => k.key))],
    }),
  },
  {
    id: 'log-usage-1key',
    name: '`POST /api/guard/log-usage`, 1 key (one payer)',
    usageKeys: ({ keys }) => keys.slice(0, 1),
    options: ({ demo, keys }) => ({
      path: '/api/guard/log-usage',
      method: 'POST',
      headers: guardHeaders(keys[0].key, demo.secret_key),
      body: USAGE_BODY,
    }),
  },
];

function guardHeaders(apiKey, secretKey) {
  return { 'content-type': 'application/json', authorization: apiKey, secretkey: secretKey };
}

/** One request template whose key changes on every request, across all connections. */
function rotatingKey(apiKeys) {
  let next = 0;
  return {
    setupRequest: (request) => {
      request.headers = { ...request.headers, authorization: apiKeys[next++ % apiKeys.length] };
      return request;
    },
  };
}

// ---------------------------------------------------------------------------------------------

const children = new Set();
let workDir;
let cleaning;

main().then(
  (exitCode) => cleanup().then(() => process.exit(exitCode)),
  (error) => {
    console.error(`\nBenchmark failed: ${error instanceof Error ? error.message : String(error)}`);
    cleanup().then(() => process.exit(1));
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers`);
    cleanup().then(() => process.exit(130));
  });
}

async function main() {
  const scenarios = selectedScenarios();
  const variants = [{ label: undefined, env: {} }];
  if (COMPARE_ENV) variants.push({ label: COMPARE_ENV, env: parseEnvList(COMPARE_ENV) });

  workDir = await mkdtemp(join(os.tmpdir(), 'swarms-guard-bench-'));
  // When run as root, the embedded Postgres runs as the postgres user, which must reach DATA_DIR
  // (else the service keeps the cluster under /var/tmp, outside what this script removes).
  await chmod(workDir, 0o755);
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir, { mode: 0o755 }); // with a server Postgres, only the credentials land here
  const rows = [];
  const checks = [];

  // 1. The baseline, alone on the machine.
  const bareUrl = `http://127.0.0.1:${await freePort()}`;
  const bare = await startChild('bare-fastify', [join(ROOT, 'bench', 'bare-fastify.mjs')], {
    env: { ...process.env, PORT: new URL(bareUrl).port, HOST: '127.0.0.1' },
    readyUrl: `${bareUrl}/`,
  });
  rows.push(await measure('bare Fastify 5 `GET /` `{ok:true}`', { url: `${bareUrl}/` }));
  await bare.stop();

  // 2. The service, once per env variant; the second reuses the first one's database and keys.
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
    const service = await startChild('service', ['dist/main.js'], {
      env,
      readyUrl: `${base}/api/health/ready`,
      // A killed service leaves its embedded Postgres running: stop that too.
      afterKill: DATABASE_URL ? undefined : () => stopOrphanPostgres(dataDir),
    });
    fixtures ??= await createFixtures(base, dataDir);
    const db = await connectDatabase(dataDir);
    try {
      for (const scenario of scenarios) {
        const name = variant.label ? `${scenario.name} with \`${variant.label}\`` : scenario.name;
        const usageKeys = scenario.usageKeys?.(fixtures);
        const rowCounter = usageKeys && (() => usageRowsByKey(db, usageKeys));
        const row = await measure(name, {
          url: base,
          ...scenario.options(fixtures),
          rowCounter,
        });
        rows.push(row);
        if (row.rowCheck) checks.push(row.rowCheck);
      }
    } finally {
      // Before the service stops its Postgres, which would drop this connection under us.
      await db.end().catch(() => undefined);
    }
    await service.stop();
  }

  const report = await formatReport(rows, checks);
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, report);
  process.stdout.write(`\n${report}`);
  console.error(`Written to ${RESULTS_FILE}`);
  const failed = rows.some((row) => row.flagged) || checks.some((check) => !check.ok);
  return failed ? 1 : 0;
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
 * A warm-up run (discarded), then the measured run. With `rowCounter`, the usage rows written
 * during the measured run are counted and compared with the 2xx answers.
 */
async function measure(name, { rowCounter, ...options }) {
  const preflight = await probe(options);
  if (preflight) console.error(`  ${name}: a first request answered ${preflight}`);
  console.error(`${name}: ${WARMUP_SECONDS} s warm-up`);
  const warmup = await load(options, WARMUP_SECONDS);
  const before = rowCounter && (await settledRows(rowCounter));
  console.error(`${name}: ${DURATION} s, ${CONNECTIONS} connections`);
  const result = await load(options, DURATION);
  const row = {
    name,
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
  if (rowCounter) row.rowCheck = compareRows(name, before, await settledRows(rowCounter), result);
  return row;
}

function load({ url, path = '', ...options }, seconds) {
  const target = new URL(path, url).href;
  return autocannon({ ...options, url: target, connections: CONNECTIONS, duration: seconds });
}

/** One plain request, so a wrong answer shows its body rather than just a count. */
async function probe({ url, path = '', method = 'GET', headers, body }) {
  try {
    const response = await fetch(new URL(path, url), { method, headers, body });
    const text = await response.text();
    return response.ok ? undefined : `${response.status} ${text.slice(0, 300)}`;
  } catch (error) {
    return String(error);
  }
}

// --- usage rows ------------------------------------------------------------------------------

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

async function usageRowsByKey(db, keys) {
  const { rows } = await db.query(
    `SELECT api_key_id, count(*)::int AS n FROM usage_events
     WHERE api_key_id = ANY($1::uuid[]) GROUP BY api_key_id`,
    [keys.map((key) => key.id)],
  );
  return new Map(rows.map((r) => [r.api_key_id, r.n]));
}

/** Counts once the numbers stop moving: requests still in the server commit after a run. */
async function settledRows(count) {
  let last = await count();
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const next = await count();
    if (total(next) === total(last)) return next;
    last = next;
  }
  return last;
}

function total(counts) {
  return [...counts.values()].reduce((sum, n) => sum + n, 0);
}

/**
 * Every 2xx must be a committed row. autocannon stops by closing its connections, so up to one
 * request per connection is still in the server, unanswered; those may commit too.
 */
function compareRows(name, before, after, result) {
  const perKey = [...after].map(([key, n]) => n - (before.get(key) ?? 0)).filter((n) => n > 0);
  const written = perKey.reduce((sum, n) => sum + n, 0);
  const ok2xx = result['2xx'];
  const unanswered = Math.max(0, result.requests.sent - result.requests.total);
  return {
    name,
    ok: written >= ok2xx && written <= ok2xx + unanswered,
    written,
    ok2xx,
    unanswered,
    keys: perKey.length,
    minPerKey: perKey.length > 0 ? Math.min(...perKey) : 0,
    maxPerKey: perKey.length > 0 ? Math.max(...perKey) : 0,
  };
}

// --- service setup -----------------------------------------------------------------------------

/** The demo's credentials plus one user with $1000 and one key per log-usage payer. */
async function createFixtures(base, dataDir) {
  const demo = JSON.parse(await readFile(join(dataDir, 'demo-credentials.json'), 'utf8'));
  if (!demo.admin_token) throw new Error('demo-credentials.json has no admin_token');
  const admin = adminClient(base, demo.admin_token);
  console.error(`Creating ${USAGE_PAYERS} users with a key each`);
  const keys = [];
  for (let i = 0; i < USAGE_PAYERS; i++) {
    const user = await admin('POST', '/api/admin/users', {});
    await admin('POST', `/api/admin/users/${user.id}/credits`, { amount: 1000 });
    const key = await admin('POST', '/api/admin/api-keys', {
      user_id: user.id,
      name: `bench-${i}`,
    });
    keys.push({ id: key.id, key: key.key });
  }
  return { demo, keys };
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
async function startChild(name, args, { env, readyUrl, afterKill }) {
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
    const ready = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return handle;
    if (Date.now() > deadline) throw new Error(`${name} not ready in 180 s:\n${await tail(log)}`);
    await sleep(250);
  }
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
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

async function formatReport(rows, checks) {
  const baseline = rows[0].rps;
  const cpus = os.cpus();
  const number = (n) => Math.round(n).toLocaleString('en-US');
  const database = DATABASE_URL ? `Postgres at ${redact(DATABASE_URL)}` : 'embedded Postgres';
  const lines = [
    '# Swarms Guard load benchmark',
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${cpus.length} CPUs ` +
      `(${cpus[0]?.model.trim() ?? 'unknown'}) · ${os.type()} ${os.release()}`,
    '',
    `autocannon in the benchmark process, ${CONNECTIONS} connections, ${DURATION} s per scenario ` +
      `after a ${WARMUP_SECONDS} s warm-up; servers in child processes on the same machine; ` +
      `${database}.`,
    '',
    '| scenario | req/s (mean) | latency p50 / p99 (ms) | non-2xx | errors | vs bare Fastify |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows
      .map((row) =>
        [
          row.flagged ? `**FLAGGED** ${row.name}` : row.name,
          number(row.rps),
          `${ms(row.p50)} / ${ms(row.p99)}`,
          row.non2xx > 0 ? `**${number(row.non2xx)}** (${row.statusCodes})` : '0',
          row.errors > 0 ? `**${number(row.errors)}**` : '0',
          `${(row.rps / baseline).toFixed(2)}×`,
        ].join(' | '),
      )
      .map((cells) => `| ${cells} |`),
  ];
  const warmupNotes = rows.filter((row) => row.warmupProblems > 0);
  if (warmupNotes.length > 0) {
    lines.push('', 'Warm-up runs with non-2xx answers or errors:');
    for (const row of warmupNotes) lines.push(`- ${row.name}: ${number(row.warmupProblems)}`);
  }
  if (checks.length > 0) {
    lines.push(
      '',
      'Usage rows written during each measured log-usage run, counted in Postgres:',
      '',
    );
    for (const c of checks) {
      const spread =
        c.keys === 1 ? '1 key' : `${c.keys} keys, ${c.minPerKey}–${c.maxPerKey} rows each`;
      lines.push(
        `- ${c.ok ? 'ok' : '**MISMATCH**'}: ${c.name}: ${number(c.written)} rows = ` +
          `${number(c.ok2xx)} answered 2xx + ${number(c.written - c.ok2xx)} ` +
          `(of ${number(c.unanswered)}) in flight when the run closed its connections; ${spread}`,
      );
    }
  }
  return prettify(`${lines.join('\n')}\n`);
}

/** autocannon's latency histogram has 1 ms resolution: 0 means under a millisecond. */
function ms(value) {
  return value < 1 ? '<1' : String(value);
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
