import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { DASHBOARD_ROOT, registerDashboard } from '../src/dashboard/serve-dashboard.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function expectDashboardHeaders(headers: Headers): void {
  expect(headers.get('content-security-policy')).toBe(CSP);
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
}

/** The page and its assets as `npm run build` wrote them (`npm test` builds first). */
describe('Dashboard serving', () => {
  let service: TestApp;
  let assets: string[];

  beforeAll(async () => {
    service = await startTestApp();
    assets = await readdir(join(DASHBOARD_ROOT, 'assets'));
  });
  afterAll(() => service.close());

  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${service.baseUrl}${path}`, { redirect: 'manual', ...init });

  it('redirects /dashboard to /dashboard/ with 308, under the same headers', async () => {
    const response = await get('/dashboard');
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/dashboard/');
    expectDashboardHeaders(response.headers);
  });

  it('answers the built index.html at /dashboard/, never cached', async () => {
    const response = await get('/dashboard/');
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expectDashboardHeaders(response.headers);
    expect(html).toBe(await readFile(join(DASHBOARD_ROOT, 'index.html'), 'utf8'));
    expect(html).toContain('<form aria-label="Sign in"');
    const input = /<input\b[^>]*\bid="admin-token"[^>]*>/.exec(html)?.[0] ?? '';
    expect(input).toContain('type="password"');
    expect(input).toContain('autocomplete="off"');
  });

  it('has no inline script or style for the CSP to refuse, and loads nothing from elsewhere', async () => {
    const html = await (await get('/dashboard/')).text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag);
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toMatch(/\ssrc="\/dashboard\/assets\/[^"]+\.js"/);
    expect(html).not.toMatch(/<script\b[^>]*>(?!<\/script>)/);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });

  it('serves hashed assets for a year, immutable, under the same headers', async () => {
    const html = await (await get('/dashboard/')).text();
    const linked = [...html.matchAll(/(?:src|href)="\/dashboard\/assets\/([^"]+)"/g)].map(
      ([, name]) => name,
    );
    expect(linked.some((name) => name.endsWith('.js'))).toBe(true);
    expect(linked.some((name) => name.endsWith('.css'))).toBe(true);
    for (const name of linked) {
      expect(name).toMatch(/-[\w-]{8,}\.(js|css)$/);
      const response = await get(`/dashboard/assets/${name}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toMatch(
        name.endsWith('.js') ? /^(text|application)\/javascript/ : /^text\/css/,
      );
      expectDashboardHeaders(response.headers);
    }
  });

  it('answers a missing asset 404 in the contract shape, with the same headers', async () => {
    const response = await get('/dashboard/assets/missing-0123abcd.js');
    expect(response.status).toBe(404);
    expectDashboardHeaders(response.headers);
    expect(await response.json()).toMatchObject({ status: 404, code: 'route_not_found' });
  });

  it('does not serve the server code compiled beside the page', async () => {
    for (const path of ['/dashboard/serve-dashboard.js', '/dashboard/index.html/../x']) {
      const response = await get(path);
      expect(response.status).toBe(404);
    }
    const traversal = await get('/dashboard/assets/..%2fserve-dashboard.js');
    expect([403, 404]).toContain(traversal.status);
  });

  it('holds no token or secret, and keeps none in storage, cookies or the URL', async () => {
    const texts = [await (await get('/dashboard/')).text()];
    for (const name of assets) texts.push(await (await get(`/dashboard/assets/${name}`)).text());
    for (const text of texts) {
      expect(text).not.toContain(ADMIN_TOKEN);
      expect(text).not.toMatch(/\b(sk|ss)-[0-9a-f]{16,}/);
      expect(text).not.toMatch(/localStorage|sessionStorage|indexedDB|document\.cookie/);
    }
    // The page itself is public; the data it shows still needs the admin token.
    const refused = await get('/api/admin/users?limit=1');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-security-policy')).toBeNull();
  });
});

describe(registerDashboard.name, () => {
  let empty: string;

  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'dashboard-unbuilt-'));
  });
  afterAll(() => rm(empty, { recursive: true, force: true }));

  it('answers 503 in the contract shape when the page is not built', async () => {
    const fastify = Fastify();
    registerDashboard(fastify, empty);
    try {
      const response = await fastify.inject({ method: 'GET', url: '/dashboard/' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-security-policy']).toBe(CSP);
      expect(response.headers['cache-control']).toBeUndefined();
      expect(response.json()).toEqual({
        status: 503,
        code: 'service_unavailable',
        message: 'The dashboard is not built: run `npm run build` to build it',
        request_id: expect.any(String),
      });
      const asset = await fastify.inject({ method: 'GET', url: '/dashboard/assets/index.js' });
      expect(asset.statusCode).toBe(404);
    } finally {
      await fastify.close();
    }
  });
});
