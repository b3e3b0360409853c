// `npm run bench:dashboard`: how long the dashboard takes to show usage on a large database.
//
// Method: BENCH_DATABASE_URL names a database filled by `npm run seed:usage` (as for
// `npm run bench:reports`; see bench/README.md). The built service (`dist/main.js`, serving
// `dist/dashboard/`) runs against it in a child process (LOG_LEVEL=warn, a random ADMIN_TOKEN).
// Chromium (BENCH_CHROMIUM, else TEST_CHROMIUM, else /usr/bin/chromium; never downloaded) opens
// /dashboard/ in a fresh browser context per run (empty cache: a first visit), then signs in.
// Per run it reads, in the page's own clock: first-contentful-paint of the page load; the time
// from the sign-in form's submit event to `performance.mark('usage-drawn')`, which the Usage view
// sets once its first chart is drawn (30 days by day and model, the default); and how long the
// `GET /api/admin/usage` answer of that view took (resource timing). One warm-up run is dropped,
// then BENCH_RUNS (default 10) are timed; median and p95 (nearest rank: of 10 runs, the slowest)
// are printed as Markdown with the event count, then the size of dist/dashboard/assets, raw and
// gzip (node:zlib, level 9). Browser, service and Postgres share the machine, so compare runs
// made on the same machine.
/* global document, window */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { freePort, percentile } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DASHBOARD = join(ROOT, 'dist', 'dashboard');
const DATABASE_URL = process.env.BENCH_DATABASE_URL?.trim();
const CHROMIUM =
  process.env.BENCH_CHROMIUM?.trim() || process.env.TEST_CHROMIUM?.trim() || '/usr/bin/chromium';
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const WARMUP = 1;

if (!DATABASE_URL) {
  console.error('Set BENCH_DATABASE_URL to a database filled by `npm run seed:usage`.');
  process.exit(2);
}
if (!existsSync(join(DASHBOARD, 'index.html'))) {
  console.error(`${DASHBOARD}/index.html is missing: run \`npm run build\` first.`);
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`No Chromium at ${CHROMIUM}: set BENCH_CHROMIUM (apt-get install chromium).`);
  process.exit(2);
}

async function files(folder) {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

async function bundleSize() {
  const rows = [];
  for (const file of await files(join(DASHBOARD, 'assets'))) {
    const content = await readFile(file);
    rows.push({
      name: relative(DASHBOARD, file),
      raw: content.length,
      gzip: gzipSync(content, { level: 9 }).length,
    });
  }
  return rows;
}

/** One visit: page load, sign-in, the Usage view drawn. Times in ms of the page's clock. */
async function visit(browser, pageUrl, adminToken) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(pageUrl, { waitUntil: 'load' });
    await page.getByLabel('Admin token').fill(adminToken);
    await page.evaluate(() => {
      document.addEventListener('submit', () => (window.benchSubmitAt = performance.now()), {
        capture: true,
        once: true,
      });
    });
    await page.locator('form[aria-label="Sign in"] button[type="submit"]').click();
    await page.waitForFunction(() => document.body.dataset.ready === 'usage', null, {
      timeout: 120_000,
    });
    return await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const drawn = performance.getEntriesByName('usage-drawn', 'mark')[0];
      const usage = performance
        .getEntriesByType('resource')
        .filter((entry) => new URL(entry.name).pathname === '/api/admin/usage')[0];
      return {
        fcp: fcp ? fcp.startTime : NaN,
        drawn: drawn ? drawn.startTime - window.benchSubmitAt : NaN,
        usage: usage ? usage.duration : NaN,
      };
    });
  } finally {
    await context.close();
  }
}

async function main() {
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const { rows: counts } = await db.query(
    'SELECT (SELECT count(*) FROM usage_events)::bigint AS events',
  );
  await db.end();

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
      METRICS_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox'],
    headless: true,
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/api/health/ready`)).ok) break;
      } catch {
        // not up yet
      }
      if (i > 300) throw new Error('service did not become ready');
      await sleep(100);
    }
    const pageUrl = `http://127.0.0.1:${port}/dashboard/`;
    const samples = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const sample = await visit(browser, pageUrl, adminToken);
      for (const [name, value] of Object.entries(sample)) {
        if (!Number.isFinite(value)) throw new Error(`run ${i + 1}: no ${name} timing`);
      }
      if (i >= WARMUP) samples.push(sample);
    }
    const measures = [
      ['first-contentful-paint of /dashboard/', 'fcp'],
      ['sign-in submit → `usage-drawn` (30 days, by day and model)', 'drawn'],
      ['of which: `GET /api/admin/usage` answer', 'usage'],
    ];
    console.log(
      `${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} CPUs · ` +
        `Chromium ${browser.version()} headless · ${Number(counts[0].events).toLocaleString()} usage events · ` +
        `${RUNS} runs after ${WARMUP} warm-up, each in a fresh browser context\n`,
    );
    console.log('| measure | median ms | p95 ms |');
    console.log('| --- | ---: | ---: |');
    for (const [label, key] of measures) {
      const sorted = samples.map((sample) => sample[key]).sort((a, b) => a - b);
      console.log(
        `| ${label} | ${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.95).toFixed(1)} |`,
      );
    }
    const bundle = await bundleSize();
    const kib = (bytes) => (bytes / 1024).toFixed(1);
    console.log('\n| dist/dashboard | raw KiB | gzip KiB |');
    console.log('| --- | ---: | ---: |');
    for (const row of bundle) console.log(`| ${row.name} | ${kib(row.raw)} | ${kib(row.gzip)} |`);
    const sum = (key) => bundle.reduce((total, row) => total + row[key], 0);
    console.log(`| **all assets** | **${kib(sum('raw'))}** | **${kib(sum('gzip'))}** |`);
  } finally {
    await browser.close();
    service.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
