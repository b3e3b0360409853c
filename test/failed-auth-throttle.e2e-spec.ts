import { SEED_AUTH_BODY } from '../src/auth/seed-examples.js';
import { generateApiKey } from '../src/auth/secrets.js';
import {
  createApiKey,
  createTenant,
  databaseFingerprint,
  guardHeaders,
  type Tenant,
} from './support/factories.js';
import { Http } from './support/http.js';
import { metric, scrape } from './support/metrics.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LIMIT = 5;

/**
 * Failed authentication is throttled per client address and per calling service: past
 * AUTH_FAILURE_LIMIT failures a minute, the source is answered 429 with Retry-After before any
 * lookup, except for a key already known to be good.
 */
describe('failed authentication throttling', () => {
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeEach(async () => {
    testApp = await startTestApp({ AUTH_FAILURE_LIMIT: String(LIMIT) });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
  });
  afterEach(() => testApp.close());

  const badKey = () => ({ ...guardHeaders(tenant), Authorization: generateApiKey() });

  it('answers 429 with Retry-After once a source has failed too often, and lets known keys through', async () => {
    const fresh = await createApiKey(http, tenant.userId);
    // Known to be good: cached before the failures start.
    expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) {
      const refused = await http.post(AUTH, SEED_AUTH_BODY, badKey());
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('invalid_api_key');
    }

    const fingerprint = await databaseFingerprint(testApp.db);
    const throttled = await http.post(AUTH, SEED_AUTH_BODY, badKey());
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({
      status: 429,
      code: 'auth_throttled',
      message: 'Too many failed authentication attempts. Please try again later.',
      request_id: expect.any(String),
    });
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(120);
    // A key never seen waits too: a guess cannot learn anything while throttled.
    expect(
      (await http.post(AUTH, SEED_AUTH_BODY, { ...guardHeaders(tenant), Authorization: fresh.key }))
        .status,
    ).toBe(429);
    expect(await databaseFingerprint(testApp.db)).toEqual(fingerprint);
    // The key already in use is not held up by the failures of others.
    expect((await http.post(AUTH, SEED_AUTH_BODY, guardHeaders(tenant))).status).toBe(200);

    const samples = await scrape(testApp.metricsUrl!);
    expect(
      metric(samples, 'guard_limiter_decisions_total', {
        limiter: 'failed_auth',
        outcome: 'refused',
      }),
    ).toBe(2);
    expect(
      metric(samples, 'guard_decisions_total', {
        route: '/api/guard/auth',
        decision: 'auth_throttled',
      }),
    ).toBe(2);
  });

  it('counts invalid secrets per client address', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const refused = await http.post(AUTH, SEED_AUTH_BODY, {
        ...guardHeaders(tenant),
        SecretKey: `sk-guess-${i}`,
      });
      expect(refused.body.code).toBe('invalid_secret_key');
    }
    const throttled = await http.post(AUTH, SEED_AUTH_BODY, {
      ...guardHeaders(tenant),
      SecretKey: 'sk-guess-again',
    });
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe('auth_throttled');
    expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('does not count successes or refusals that are not authentication', async () => {
    for (let i = 0; i < LIMIT * 2; i++) {
      const answer = await http.post(
        AUTH,
        { ...SEED_AUTH_BODY, model: 'no-such-model' },
        guardHeaders(tenant),
      );
      expect(answer.status).toBe(404);
    }
    expect((await http.post(AUTH, SEED_AUTH_BODY, badKey())).status).toBe(401);
  });
});
