import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/app-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { runMigrations } from '../src/database/migrations.js';
import { createTenant, guardHeaders, type Tenant } from './support/factories.js';
import { Http } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const AUTH = '/api/guard/auth';

/** The service on a Postgres of its own, which the test then stops. */
describe('with Postgres stopped', () => {
  let dataDir: string;
  let database: EmbeddedDatabase;
  let testApp: TestApp;
  let http: Http;
  let tenant: Tenant;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'guard-down-'));
    await chmod(dataDir, 0o755);
    database = await startEmbeddedPostgres(dataDir);
    await runMigrations(loadConfig({}).database, database.url);
    testApp = await startTestApp({ DB_CONNECT_TIMEOUT_MS: '1000' }, { databaseUrl: database.url });
    http = new Http(testApp.baseUrl);
    tenant = await createTenant(http);
    // Let the invalidations of those admin changes arrive, then make the service client known
    // to the instance.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await http.post(AUTH, { model: tenant.model }, guardHeaders(tenant))).status).toBe(200);
    await database.stop();
  });

  afterAll(async () => {
    await testApp.close();
    await database.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses malformed and bad-checksum keys with 401, without reaching Postgres', async () => {
    const typo =
      tenant.apiKey.slice(0, 20) +
      (tenant.apiKey[20] === 'a' ? 'b' : 'a') +
      tenant.apiKey.slice(21);
    for (const key of ['sk-xxx', 'not-a-key', typo, `Bearer ${typo}`]) {
      const started = performance.now();
      const { status, body } = await http.post(
        AUTH,
        { model: tenant.model },
        {
          SecretKey: tenant.secretKey,
          Authorization: key,
        },
      );
      expect({ key, status, code: body.code }).toEqual({
        key,
        status: 401,
        code: 'invalid_api_key',
      });
      expect(performance.now() - started).toBeLessThan(500);
    }
  });

  it('answers what needs Postgres with a fast 503', async () => {
    const started = performance.now();
    const { status, body } = await http.post(
      AUTH,
      { model: tenant.model },
      {
        SecretKey: 'ss-never-seen',
        Authorization: tenant.apiKey,
      },
    );
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|password/);
    expect(performance.now() - started).toBeLessThan(3000);

    const ready = await http.request('GET', '/api/health/ready');
    expect(ready.status).toBe(503);
  });

  it('does not let a known key in while it cannot check for revocations', async () => {
    const { status } = await http.post(AUTH, { model: tenant.model }, guardHeaders(tenant));
    expect(status).toBe(503);
  });
});
