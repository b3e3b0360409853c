/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import {
  CHROMIUM,
  VIEWS,
  VIEW_TABLE,
  dashboardNav,
  launchChromium,
  normalizeDecimal,
  numbersIn,
  openPage,
  openView,
  parseExactJson,
  pressUntil,
  screenshot,
  seedDashboard,
  seriousViolations,
  settle,
  signIn,
  signInForm,
  startDashboardService,
  storedState,
  sumDecimals,
  waitForView,
  type DashboardService,
  type Focused,
  type Seed,
  type View,
} from '../support/browser.js';
import { ADMIN_TOKEN } from '../support/test-app.js';

/**
 * Focuses the navigation link of `view` by keyboard: Shift+Tab back into the navigation (it
 * comes before the view), along its links, or with the arrow keys when it keeps one tab stop.
 */
async function focusNavLink(page: Page, view: View): Promise<Focused | null> {
  const isLink = (element: Focused) => element.inNav && element.href === `#${view.hash}`;
  const entered = await pressUntil(page, 'Shift+Tab', (element) => element.inNav, 60);
  if (!entered) return null;
  if (isLink(entered)) return entered;
  const back = await pressUntil(
    page,
    'Shift+Tab',
    (element) => !element.inNav || isLink(element),
    VIEWS.length,
  );
  if (back && isLink(back)) return back;
  if (!(await pressUntil(page, 'Tab', (element) => element.inNav, 10))) return null;
  for (const key of ['ArrowRight', 'ArrowDown', 'ArrowLeft', 'ArrowUp']) {
    const reached = await pressUntil(page, key, isLink, VIEWS.length);
    if (reached) return reached;
  }
  return null;
}

describe('exact decimals of the browser tests', () => {
  it('sum decimal texts without a float', () => {
    expect(sumDecimals(['0.1', '0.2'])).toBe('0.3');
    expect(sumDecimals(['0.000000000001', '12345678901234.5', '-0.5'])).toBe(
      '12345678901234.000000000001',
    );
    expect(sumDecimals([])).toBe('0');
  });

  it('keep JSON numbers as their text', () => {
    expect(parseExactJson('{"a":[0.10000000000000000001,-3],"b":"x\\"1.5"}')).toEqual({
      a: ['0.10000000000000000001', '-3'],
      b: 'x"1.5',
    });
    expect(numbersIn('$1,234.5000 · 12 345 tokens')).toEqual(['1234.5', '12345']);
    expect(normalizeDecimal('007.0')).toBe('7');
  });
});

if (CHROMIUM === undefined) {
  process.stdout.write(
    'Dashboard browser tests are not part of this run: set TEST_CHROMIUM (e.g. /usr/bin/chromium) to run them.\n',
  );
} else {
  const executablePath = CHROMIUM;
  describe('dashboard in Chromium', () => {
    let browser: Browser;
    let dashboard: DashboardService;
    let seed: Seed;

    beforeAll(async () => {
      // Set but unusable is a failure, not a reason to skip.
      browser = await launchChromium(executablePath);
      dashboard = await startDashboardService();
      seed = await seedDashboard(dashboard);
    });

    afterAll(async () => {
      await browser?.close();
      await dashboard?.close();
    });

    const pages: Page[] = [];
    async function newPage(
      colorScheme: 'light' | 'dark' = 'light',
      options: { bypassCSP?: boolean } = {},
    ) {
      const opened = await openPage(browser, colorScheme, options);
      pages.push(opened.page);
      return opened;
    }
    afterEach(async () => {
      for (const page of pages.splice(0)) await page.context().close();
    });

    it('refuses a wrong admin token with an alert, no navigation and no data', async () => {
      const { page, traffic } = await newPage();
      await page.goto(dashboard.pageUrl);
      await page.getByLabel('Admin token').fill('not-the-admin-token-0123456789abcdef');
      await signInForm(page).getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Admin token refused' }).waitFor();
      await settle(traffic);

      expect(await dashboardNav(page).count()).toBe(0);
      expect(await page.locator('table, [data-testid="usage-total"], [role="img"]').count()).toBe(
        0,
      );
      expect(await signInForm(page).isVisible()).toBe(true);
      expect(traffic.requests.map((request) => new URL(request.url).pathname)).toEqual([
        '/api/admin/users',
      ]);
      expect(new URL(traffic.requests[0].url).search).toBe('?limit=1');
    });

    it('signs in with the admin token to the navigation and the Usage view, and signs out', async () => {
      const { page, traffic } = await newPage();
      await signIn(page, dashboard.pageUrl);

      const links = dashboardNav(page).getByRole('link');
      const found = await links.evaluateAll((elements) =>
        elements.map((element) => [element.textContent!.trim(), element.getAttribute('href')]),
      );
      expect(found).toEqual(VIEWS.map((view) => [view.name, `#${view.hash}`]));
      expect(await links.first().getAttribute('aria-current')).toBe('page');
      expect(await page.locator('main#main > :first-child').evaluate((e) => e.tagName)).toBe('H1');
      expect(await page.locator('main#main > h1').textContent()).toBe('Usage');
      const skip = await page.evaluate(() => {
        const first = document.body.querySelector('a[href], button, input, select, textarea');
        return first && [first.textContent!.trim(), first.getAttribute('href')];
      });
      expect(skip).toEqual(['Skip to content', '#main']);
      // Every admin call carries the token as a bearer, none carries it elsewhere.
      const admin = traffic.requests.filter((request) => request.url.includes('/api/admin/'));
      expect(admin.length).toBeGreaterThan(1);
      for (const request of admin) {
        expect(request.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
        expect(request.url).not.toContain(ADMIN_TOKEN);
      }

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInForm(page).waitFor();
      expect(await dashboardNav(page).count()).toBe(0);
      expect(await page.content()).not.toContain(ADMIN_TOKEN);
    });

    it('totals the Usage view exactly as the API buckets sum, one table row per bucket', async () => {
      const { page } = await newPage();
      const usageCall = page.waitForRequest(
        (request) => new URL(request.url()).pathname === '/api/admin/usage',
      );
      await signIn(page, dashboard.pageUrl);
      const query = new URL((await usageCall).url()).searchParams;
      expect(query.get('bucket')).toBe('day');
      expect(query.get('group_by')).toBe('model');
      const days = (Date.parse(query.get('to')!) - Date.parse(query.get('from')!)) / 86_400_000;
      expect(Math.round(days)).toBe(30);

      const params = new URLSearchParams({
        from: query.get('from')!,
        to: query.get('to')!,
        bucket: 'day',
        group_by: 'model',
      });
      const answer = await dashboard.http.admin('GET', `/usage?${params}`);
      expect(answer.status).toBe(200);
      const buckets: Record<string, string>[] = parseExactJson(answer.text).buckets;
      const models = new Set(buckets.map((bucket) => bucket.model));
      expect([...models]).toEqual(expect.arrayContaining(seed.models));
      expect(new Set(buckets.map((bucket) => bucket.start)).size).toBeGreaterThan(1);

      const cost = sumDecimals(buckets.map((bucket) => bucket.cost));
      const requests = sumDecimals(buckets.map((bucket) => bucket.requests));
      const tokens = sumDecimals(
        buckets.flatMap((bucket) => [bucket.input_tokens, bucket.output_tokens]),
      );
      const total = await page.getByTestId('usage-total').textContent();
      expect(numbersIn(total!)).toEqual(expect.arrayContaining([cost, tokens, requests]));

      const rows = await page
        .locator(VIEW_TABLE)
        .first()
        .locator('tbody tr')
        .evaluateAll((elements) =>
          elements.map((row) =>
            Array.from((row as HTMLTableRowElement).cells, (cell) => cell.textContent).join('\t'),
          ),
        );
      expect(rows).toHaveLength(buckets.length);
      for (const bucket of buckets) {
        const match = rows.filter(
          (row) =>
            row.includes(bucket.start.slice(0, 10)) &&
            row.includes(bucket.model) &&
            numbersIn(row).includes(normalizeDecimal(bucket.cost)) &&
            numbersIn(row).includes(normalizeDecimal(bucket.requests)),
        );
        expect({ bucket, rows: match.length }).toEqual({ bucket, rows: 1 });
      }
      expect(
        await page.evaluate(() => performance.getEntriesByName('usage-drawn', 'mark').length),
      ).toBe(1);
    });

    it('shows a rotated key once, which authenticates, and never again after Done or a reload', async () => {
      const { page, traffic } = await newPage();
      await signIn(page, dashboard.pageUrl);
      await openView(page, traffic, VIEWS[5]);
      const key = seed.keys[1];
      const row = page.locator(`${VIEW_TABLE} tbody tr`).filter({ hasText: key.prefix });
      await expect(row.count()).resolves.toBe(1);
      await row.getByLabel(/grace period/i).fill('60');
      await row.getByRole('button', { name: 'Rotate', exact: true }).click();

      const output = page
        .getByRole('region', { name: 'New secret' })
        .locator('output[data-testid="new-secret"]');
      await output.waitFor();
      const secret = (await output.textContent())!.trim();
      expect(secret).toMatch(/^sk-[0-9a-f]{64}$/);
      expect(secret).not.toBe(key.key);
      // Shown exactly once: in the output, nowhere else on the page.
      expect((await page.content()).split(secret)).toHaveLength(2);

      const auth = await dashboard.http.post(
        '/api/guard/auth',
        { model: seed.models[0] },
        { Authorization: secret, SecretKey: seed.serviceClient.secret_key },
      );
      expect(auth.status).toBe(200);
      expect(auth.body.api_key_id).toBe(key.id);
      // The grace period was sent: the old secret works beside the new one.
      const old = await dashboard.http.post(
        '/api/guard/auth',
        { model: seed.models[0] },
        { Authorization: key.key, SecretKey: seed.serviceClient.secret_key },
      );
      expect(old.status).toBe(200);

      await page
        .getByRole('region', { name: 'New secret' })
        .getByRole('button', { name: 'Done' })
        .click();
      await page.getByRole('region', { name: 'New secret' }).waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(secret);

      await page.reload();
      await signIn(page, dashboard.pageUrl);
      await openView(page, traffic, VIEWS[5]);
      expect(await page.content()).not.toContain(secret);
      expect(await page.getByTestId('new-secret').count()).toBe(0);
    });

    it('opens every view and a control in it by keyboard alone, with a visible focus indicator', async () => {
      const { page, traffic } = await newPage();
      await page.goto(dashboard.pageUrl);
      await page.getByLabel('Admin token').focus();
      await page.keyboard.type(ADMIN_TOKEN);
      await page.keyboard.press('Enter');
      await dashboardNav(page).waitFor();
      await page.waitForFunction(() => document.body.dataset.ready === 'usage');

      const missing: string[] = [];
      const noIndicator: Focused[] = [];
      for (const view of VIEWS) {
        const link = await focusNavLink(page, view);
        if (!link) {
          missing.push(`link ${view.name}`);
          continue;
        }
        if (!link.visibleIndicator) noIndicator.push(link);
        await page.keyboard.press('Enter');
        await waitForView(page, traffic, view);
        const control = await pressUntil(
          page,
          'Tab',
          (element) =>
            element.inMain && ['button', 'select', 'input', 'textarea'].includes(element.tag),
          60,
        );
        if (!control) {
          missing.push(`a control in ${view.name}`);
          continue;
        }
        if (!control.visibleIndicator) noIndicator.push(control);
        // Download CSV by keyboard: the control does something.
        const csv = await pressUntil(
          page,
          'Tab',
          (element) => element.inMain && element.text === 'Download CSV',
          60,
        );
        if (!csv) {
          missing.push(`Download CSV in ${view.name}`);
          continue;
        }
        const download = page.waitForEvent('download', { timeout: 5000 });
        await page.keyboard.press('Enter');
        const file = (await download).suggestedFilename();
        if (!file.startsWith(`${view.hash}-`) || !file.endsWith('.csv'))
          missing.push(`${view.name}: CSV named ${file}`);
      }
      expect(missing).toEqual([]);
      expect(noIndicator).toEqual([]);
    });

    it('loads every view from the service itself, without a failed request or console error', async () => {
      const { page, traffic } = await newPage();
      await signIn(page, dashboard.pageUrl);
      for (const view of VIEWS) await openView(page, traffic, view);
      // Nothing from the internet; a CSP refusal would be a console error.
      expect(
        traffic.urls.filter((url) => new URL(url).origin !== dashboard.service.baseUrl),
      ).toEqual([]);
      expect(traffic.errors).toEqual([]);
    });

    for (const colorScheme of ['light', 'dark'] as const) {
      it(`has no serious or critical axe violation on any view, ${colorScheme} scheme`, async () => {
        // axe is injected as an inline script, which the page's CSP rightly refuses.
        const { page, traffic } = await newPage(colorScheme, { bypassCSP: true });
        await page.goto(dashboard.pageUrl);
        await signInForm(page).waitFor();
        const found: Record<string, unknown> = {};
        const signInViolations = await seriousViolations(page);
        if (signInViolations.length > 0) found['sign-in'] = signInViolations;
        await screenshot(page, `sign-in-${colorScheme}`);
        await signIn(page, dashboard.pageUrl);
        for (const view of VIEWS) {
          await openView(page, traffic, view);
          const violations = await seriousViolations(page);
          if (violations.length > 0) found[view.hash] = violations;
          await screenshot(page, `${view.hash}-${colorScheme}`);
        }
        expect(found).toEqual({});
      });
    }

    it('keeps the token out of storage, cookies, history and URLs; a reload signs out', async () => {
      const { page, traffic } = await newPage();
      const urls: string[] = [];
      page.on('framenavigated', (frame) => urls.push(frame.url()));
      await signIn(page, dashboard.pageUrl);
      for (const view of VIEWS) {
        await openView(page, traffic, view);
        expect(await storedState(page)).not.toContain(ADMIN_TOKEN);
      }
      await page.goBack();
      await settle(traffic);
      expect(await storedState(page)).not.toContain(ADMIN_TOKEN);
      for (const url of [...urls, ...traffic.urls]) {
        expect(url).not.toContain(ADMIN_TOKEN);
      }

      await page.reload();
      await signInForm(page).waitFor();
      await settle(traffic);
      expect(await dashboardNav(page).count()).toBe(0);
      expect(await page.locator('table').count()).toBe(0);
      expect(await storedState(page)).not.toContain(ADMIN_TOKEN);
    });
  });
}
