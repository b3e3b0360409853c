/// <reference lib="dom" />
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestDatabase } from './database.js';
import {
  addCredit,
  addMember,
  createApiKey,
  createOrganization,
  createServiceClient,
  createUser,
  putModel,
  seedUsageBody,
} from './factories.js';
import { Http } from './http.js';
import { freePort, spawnService, type ServiceProcess } from './service-process.js';
import { ADMIN_TOKEN } from './test-app.js';

/** The Chromium the browser tests drive (`TEST_CHROMIUM`); without it they are not run. */
export const CHROMIUM = process.env.TEST_CHROMIUM?.trim() || undefined;

export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');

/** The views of the dashboard, in the order of its navigation. */
export const VIEWS = [
  { hash: 'usage', name: 'Usage' },
  { hash: 'top', name: 'Top spenders' },
  { hash: 'credit', name: 'Credit and limits' },
  { hash: 'refusals', name: 'Refusals' },
  { hash: 'audit', name: 'Audit log' },
  { hash: 'keys', name: 'Keys' },
  { hash: 'service-clients', name: 'Service clients' },
] as const;
export type View = (typeof VIEWS)[number];

/** A view's table of rows (a chart's legend is a table too, without a caption). */
export const VIEW_TABLE = 'main#main table:has(> caption)';

/**
 * Chromium from `executablePath`, headless, never downloaded. A path that does not start is a
 * failure with the reason, not a reason to skip.
 */
export async function launchChromium(executablePath: string): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`TEST_CHROMIUM=${executablePath}: no such file`);
  }
  try {
    return await chromium.launch({ executablePath, args: ['--no-sandbox'], headless: true });
  } catch (error) {
    throw new Error(`TEST_CHROMIUM=${executablePath} did not start: ${String(error)}`);
  }
}

export interface DashboardService {
  service: ServiceProcess;
  http: Http;
  databaseUrl: string;
  /** `${baseUrl}/dashboard/` */
  pageUrl: string;
  close(): Promise<void>;
}

/** The built service (`dist/main.js` and `dist/dashboard/`) on a fresh database. */
export async function startDashboardService(): Promise<DashboardService> {
  const indexHtml = join(process.cwd(), 'dist', 'dashboard', 'index.html');
  if (!existsSync(indexHtml)) {
    throw new Error(`${indexHtml} is missing: the dashboard is not built (npm run build)`);
  }
  const database = await createTestDatabase();
  const service = spawnService(await freePort(), {
    DATABASE_URL: database.url,
    ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
    DECISION_FLUSH_MS: '200',
  });
  try {
    await service.ready();
  } catch (error) {
    await service.stop();
    await database.drop();
    throw error;
  }
  return {
    service,
    http: new Http(service.baseUrl),
    databaseUrl: database.url,
    pageUrl: `${service.baseUrl}/dashboard/`,
    close: async () => {
      await service.stop();
      await database.drop();
    },
  };
}

export interface SeededKey {
  id: string;
  key: string;
  prefix: string;
  userId: string;
}

export interface Seed {
  models: string[];
  users: string[];
  organizations: { id: string; public_id: string }[];
  keys: SeededKey[];
  serviceClient: { id: string; secret_key: string };
}

const execFileAsync = promisify(execFile);

/**
 * A few users, organizations, keys and a service client through the admin API; real usage
 * through `POST /api/guard/log-usage` on two models (today, and some of it refused for lack of
 * credit at auth); then three days of history loaded by `seed-usage` (the benchmarks' loader,
 * with its rollups) so the charts have more than one bucket.
 */
export async function seedDashboard(dashboard: DashboardService): Promise<Seed> {
  const { http } = dashboard;
  // Prices with digits a float sum would lose.
  await putModel(http, 'cogvlm-chat-17b', 0.3, 0.7);
  await putModel(http, 'gpt-4o-mini', 0.15, 0.6);
  const models = ['cogvlm-chat-17b', 'gpt-4o-mini'];
  const users: string[] = [];
  for (const body of [
    { email: 'ada@example.com' },
    { email: 'grace@example.com', credit_plan: 'invoice', credit_limit: 50 },
    { email: 'broke@example.com' },
  ]) {
    const user = await createUser(http, body);
    users.push(user.id);
  }
  await addCredit(http, users[0], { amount: 25 });
  const organizations = [
    await createOrganization(http, users[0], 'Analytical Engines'),
    await createOrganization(http, users[1], 'Compilers Inc'),
  ];
  await addMember(http, organizations[0].id, users[1], 'reader');
  const serviceClient = await createServiceClient(http, 'model-server');
  const keys: SeededKey[] = [];
  for (const [index, userId] of [users[0], users[0], users[1], users[2]].entries()) {
    const key = await createApiKey(http, userId, { name: `key ${index + 1}` });
    keys.push({ id: key.id, key: key.key, prefix: (key as any).prefix, userId });
  }
  const headers = (key: SeededKey, extra: Record<string, string> = {}) => ({
    Authorization: key.key,
    SecretKey: serviceClient.secret_key,
    ...extra,
  });
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 12; i++) {
    const key = keys[i % 3];
    const body = seedUsageBody({
      model: models[i % 2],
      input_tokens: 137 + i * 1013,
      output_tokens: 61 + i * 347,
    });
    const extra: Record<string, string> =
      i % 4 === 3 ? { 'Swarms-Organization': organizations[0].public_id } : {};
    calls.push(
      http.post('/api/guard/log-usage', body, headers(key, extra)).then((answer) => {
        if (answer.status !== 201) throw new Error(`log-usage: ${answer.status} ${answer.text}`);
      }),
    );
  }
  await Promise.all(calls);
  // Refusals for the Refusals view: a key without credit, and an unknown key.
  for (let i = 0; i < 3; i++) {
    await http.post('/api/guard/auth', { model: models[0] }, headers(keys[3]));
  }
  await http.post(
    '/api/guard/auth',
    { model: models[0] },
    { Authorization: `sk-${'0'.repeat(64)}`, SecretKey: serviceClient.secret_key },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: dashboard.databaseUrl,
    LOG_LEVEL: 'warn',
  };
  delete env.NODE_OPTIONS;
  await execFileAsync(
    process.execPath,
    [
      'dist/demo/seed-usage.cli.js',
      '--events',
      '600',
      '--days',
      '3',
      '--users',
      '8',
      '--organizations',
      '2',
      '--streams',
      '1',
    ],
    { env },
  );
  return { models, users, organizations, keys, serviceClient };
}

/** Every admin API call the page makes, and every URL it loads. */
export interface Traffic {
  requests: { method: string; url: string; authorization: string | undefined }[];
  /** Every URL the page requested: documents, assets, API calls. */
  urls: string[];
  /** Console errors (a CSP refusal is one) and uncaught exceptions. */
  errors: string[];
  /** API requests sent and not yet answered. */
  pending(): number;
}

export function recordTraffic(page: Page): Traffic {
  const requests: Traffic['requests'] = [];
  const urls: string[] = [];
  const errors: string[] = [];
  let pending = 0;
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('request', (request) => {
    urls.push(request.url());
    if (!request.url().includes('/api/')) return;
    pending++;
    requests.push({
      method: request.method(),
      url: request.url(),
      authorization: request.headers()['authorization'],
    });
  });
  const done = (request: { url(): string }) => {
    if (request.url().includes('/api/')) pending--;
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return { requests, urls, errors, pending: () => pending };
}

/** A fresh context and page in `colorScheme`, its API traffic recorded. */
export async function openPage(
  browser: Browser,
  colorScheme: 'light' | 'dark' = 'light',
  options: { bypassCSP?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; traffic: Traffic }> {
  const context = await browser.newContext({
    ...options,
    colorScheme,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  // A missing element fails in seconds, not in Playwright's default 30.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  return { context, page, traffic };
}

export const signInForm = (page: Page) => page.locator('form[aria-label="Sign in"]');
export const dashboardNav = (page: Page) => page.locator('nav[aria-label="Dashboard"]');

/** Opens the page and signs in through the form; resolves once the Usage view has drawn. */
export async function signIn(page: Page, pageUrl: string, token = ADMIN_TOKEN): Promise<void> {
  await page.goto(pageUrl);
  await page.getByLabel('Admin token').fill(token);
  await signInForm(page).getByRole('button', { name: 'Sign in' }).click();
  await dashboardNav(page).waitFor();
  await page.waitForFunction(() => document.body.dataset.ready === 'usage');
}

/** Waits until the API calls the page has started are answered and have been quiet 150 ms. */
export async function settle(traffic: Traffic, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  let quietSince = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (traffic.pending() > 0) quietSince = Date.now();
    else if (Date.now() - quietSince >= 150) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`API calls still pending after ${timeoutMs} ms`);
}

/** Opens a view through its navigation link and waits for its heading, table and data. */
export async function openView(page: Page, traffic: Traffic, view: View): Promise<void> {
  await dashboardNav(page).getByRole('link', { name: view.name, exact: true }).click();
  await waitForView(page, traffic, view);
}

export async function waitForView(page: Page, traffic: Traffic, view: View): Promise<void> {
  await page.waitForURL((url) => url.hash === `#${view.hash}`);
  await page.locator('main#main > h1').filter({ hasText: view.name }).waitFor();
  await page.locator(VIEW_TABLE).first().waitFor();
  await settle(traffic);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core from node_modules, run on the whole page: its serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => typeof (window as any).axe === 'object');
  if (!loaded) {
    await page.addScriptTag({
      path: join(process.cwd(), 'node_modules', 'axe-core', 'axe.min.js'),
    });
  }
  const violations: any[] = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations;
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node: any) => `${node.target.join(' ')}: ${node.failureSummary}`),
    }));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** What the focused element is, and whether it shows a focus indicator. */
export interface Focused {
  tag: string;
  text: string;
  href: string | null;
  inNav: boolean;
  inMain: boolean;
  visibleIndicator: boolean;
  style: { outline: string; boxShadow: string };
}

export function focused(page: Page): Promise<Focused | null> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    if (!element || element === document.body) return null;
    const style = getComputedStyle(element);
    const outline =
      style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
        ? `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`
        : 'none';
    return {
      tag: element.tagName.toLowerCase(),
      text: (element.textContent ?? '').trim(),
      href: element.getAttribute('href'),
      inNav: element.closest('nav[aria-label="Dashboard"]') !== null,
      inMain: element.closest('main#main') !== null,
      visibleIndicator: outline !== 'none' || style.boxShadow !== 'none',
      style: { outline, boxShadow: style.boxShadow },
    };
  });
}

/**
 * Presses `key` until the focused element satisfies `wanted`, at most `max` times; the focused
 * element, or null when it was never reached.
 */
export async function pressUntil(
  page: Page,
  key: string,
  wanted: (element: Focused) => boolean,
  max = 40,
): Promise<Focused | null> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    const element = await focused(page);
    if (element && wanted(element)) return element;
  }
  return null;
}

/** Where the page could have kept the token: web storage, cookies, IndexedDB, URL, history. */
export async function storedState(page: Page): Promise<string> {
  const inPage = await page.evaluate(async () => {
    const storage = (store: Storage) =>
      Array.from({ length: store.length }, (_, i) => {
        const key = store.key(i)!;
        return `${key}=${store.getItem(key)}`;
      });
    const databases = indexedDB.databases ? await indexedDB.databases() : [];
    return {
      local: storage(localStorage),
      session: storage(sessionStorage),
      indexedDb: databases.map((database) => database.name),
      url: location.href,
      history: JSON.stringify(history.state),
      documentCookie: document.cookie,
    };
  });
  const cookies = await page.context().cookies();
  return JSON.stringify({ ...inPage, cookies, pageUrl: page.url() });
}

/**
 * JSON with every number kept as its text, so decimals are never floats:
 * `{"cost":0.1}` gives `{ cost: '0.1' }`.
 */
export function parseExactJson(text: string): any {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      out += char;
      if (char === '\\') out += text[++i];
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
      out += char;
    } else if (/[-0-9]/.test(char)) {
      const match = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i))!;
      if (match[2]) throw new Error(`Exponent in a decimal: ${match[0]}`);
      out += `"${match[0]}"`;
      i += match[0].length - 1;
    } else out += char;
  }
  return JSON.parse(out);
}

/** The exact sum of decimal texts, as normalized decimal text (no float on the way). */
export function sumDecimals(values: string[]): string {
  const scale = Math.max(0, ...values.map((value) => (value.split('.')[1] ?? '').length));
  const scaled = (value: string) => {
    const negative = value.startsWith('-');
    const [whole, fraction = ''] = value.replace(/^-/, '').split('.');
    const units = BigInt(whole + fraction.padEnd(scale, '0'));
    return negative ? -units : units;
  };
  const total = values.reduce((sum, value) => sum + scaled(value), 0n);
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return normalizeDecimal(`${negative ? '-' : ''}${text}`);
}

/** `0012.3400` → `12.34`; `5.000` → `5`. */
export function normalizeDecimal(text: string): string {
  let out = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  out = out.replace(/^(-?)0+(?=\d)/, '$1');
  return out === '-0' ? '0' : out;
}

/**
 * The numbers written in a text, normalized: digit-group separators (`,`, spaces, narrow
 * no-break spaces) dropped, so `1,234.5000` and `$1 234.5` both give `1234.5`.
 */
export function numbersIn(text: string): string[] {
  const joined = text.replace(/(\d)[,\u00a0\u202f ](?=\d{3}\b)/g, '$1');
  return (joined.match(/-?\d+(\.\d+)?/g) ?? []).map(normalizeDecimal);
}
