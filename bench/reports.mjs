// `npm run bench:reports`: latency of usage reports on a database filled by `npm run seed:usage`.
//
// Method: BENCH_DATABASE_URL names that database (migrated, then filled with
// `npm run seed:usage -- --events 10000000`, which also writes every rollup and ANALYZEs). The
// built service (`dist/main.js`) runs against it in a child process (LOG_LEVEL=warn, a random
// ADMIN_TOKEN). Each report below is requested sequentially over HTTP, 10 warm-up requests whose
// times are dropped, then BENCH_RUNS (default 100) timed ones, end to end (service + Postgres),
// as an admin client would see them; p50, p95 and max are printed as a Markdown table with the
// event and rollup row counts. The busiest organization (most requests in the last 30 days) is
// the single-organization case. Its reports read usage_daily and usage_hourly; the whole-platform
// ones usage_daily_platform and usage_hourly_platform (see docs/reports.md). Load generator,
// service and Postgres share the machine, so compare runs made on the same machine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, percentile } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATABASE_URL = process.env.BENCH_DATABASE_URL?.trim();
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const WARMUP = 10;

if (!DATABASE_URL) {
  console.error('Set BENCH_DATABASE_URL to a database filled by `npm run seed:usage`.');
  process.exit(2);
}

async function main() {
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const { rows: counts } = await db.query(
    `SELECT (SELECT count(*) FROM usage_events)::bigint AS events, (SELECT count(*) FROM usage_daily)::bigint AS rollups,
       (SELECT count(*) FROM usage_daily_platform)::bigint AS platform_rollups`,
  );
  // The organization with the most usage in the last 30 days: the slowest single-organization report.
  const { rows: heaviest } = await db.query(
    `SELECT organization_id AS id, sum(requests)::bigint AS requests FROM usage_daily
     WHERE organization_id IS NOT NULL AND day >= (now() AT TIME ZONE 'UTC')::date - 30
     GROUP BY 1 ORDER BY 2 DESC LIMIT 1`,
  );
  await db.end();
  if (!heaviest[0])
    throw new Error('No organization usage: run `npm run seed:usage` on this database first');

  const port = await freePort();
  const adminToken = randomBytes(24).toString('hex');
  const service = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL,
      ADMIN_TOKEN: adminToken,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}/api/admin`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/api/health/ready`)).ok) break;
      } catch {
        // not up yet
      }
      if (i > 300) throw new Error('service did not become ready');
      await sleep(100);
    }
    const to = new Date();
    const from = new Date(to.getTime() - 30 * 86_400_000);
    const period = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const week = `from=${encodeURIComponent(new Date(to.getTime() - 7 * 86_400_000).toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const reports = [
      {
        name: '30-day daily report, one organization (the busiest)',
        path: `/usage?bucket=day&organization_id=${heaviest[0].id}&${period}`,
      },
      {
        name: '30-day daily report, one organization, by model',
        path: `/usage?bucket=day&group_by=model&organization_id=${heaviest[0].id}&${period}`,
      },
      { name: '30-day daily report, whole platform', path: `/usage?bucket=day&${period}` },
      {
        name: '30-day daily report, whole platform, by model',
        path: `/usage?bucket=day&group_by=model&${period}`,
      },
      {
        name: '30-day monthly report, whole platform, by model',
        path: `/usage?bucket=month&group_by=model&${period}`,
      },
      {
        name: '7-day hourly report, whole platform, by model',
        path: `/usage?bucket=hour&group_by=model&${week}`,
      },
      {
        name: '7-day hourly report, one organization (the busiest)',
        path: `/usage?bucket=hour&organization_id=${heaviest[0].id}&${week}`,
      },
    ];
    const results = [];
    for (const report of reports) {
      const timings = [];
      for (let i = 0; i < WARMUP + RUNS; i++) {
        const started = performance.now();
        const response = await fetch(`${base}${report.path}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const body = await response.json();
        const elapsed = performance.now() - started;
        if (!response.ok)
          throw new Error(`${report.path}: ${response.status} ${JSON.stringify(body)}`);
        if (i >= WARMUP) timings.push(elapsed);
        if (i === 0) report.buckets = body.buckets.length;
      }
      timings.sort((a, b) => a - b);
      results.push({
        ...report,
        p50: percentile(timings, 0.5),
        p95: percentile(timings, 0.95),
        max: timings[timings.length - 1],
      });
    }
    console.log(
      `${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} CPUs · ` +
        `${Number(counts[0].events).toLocaleString()} events, ${Number(counts[0].rollups).toLocaleString()} daily rollup rows, ` +
        `${Number(counts[0].platform_rollups).toLocaleString()} daily platform rollup rows · ` +
        `${RUNS} sequential requests per report after ${WARMUP} warm-up\n`,
    );
    console.log('| report | buckets | p50 ms | p95 ms | max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of results) {
      console.log(
        `| ${r.name} | ${r.buckets} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} |`,
      );
    }
  } finally {
    service.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
