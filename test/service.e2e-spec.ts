import { Http } from './support/http.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

describe('service surface', () => {
  let testApp: TestApp;
  let http: Http;

  beforeAll(async () => {
    testApp = await startTestApp();
    http = new Http(testApp.baseUrl);
  });
  afterAll(() => testApp.close());

  it('is live and ready', async () => {
    expect((await http.request('GET', '/api/health/live')).body).toEqual({ status: 'ok' });
    const ready = await http.request('GET', '/api/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', cache: 'listening' });
  });

  it('is not ready while a migration is pending', async () => {
    const { rows } = await testApp.db.query(
      `DELETE FROM migrations WHERE id = (SELECT max(id) FROM migrations) RETURNING *`,
    );
    const ready = await http.request('GET', '/api/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 503, code: 'service_unavailable' });
    await testApp.db.query(`INSERT INTO migrations (id, timestamp, name) VALUES ($1, $2, $3)`, [
      rows[0].id,
      rows[0].timestamp,
      rows[0].name,
    ]);
    expect((await http.request('GET', '/api/health/ready')).status).toBe(200);
  });

  it('documents every route at /docs/openapi.json, with the security schemes and the error body', async () => {
    const { status, body } = await http.request('GET', '/docs/openapi.json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths).sort()).toEqual([
      '/api/admin/api-keys',
      '/api/admin/api-keys/import',
      '/api/admin/api-keys/{id}',
      '/api/admin/api-keys/{id}/rotate',
      '/api/admin/audit',
      '/api/admin/decisions',
      '/api/admin/models',
      '/api/admin/models/{unique_name}',
      '/api/admin/models/{unique_name}/prices',
      '/api/admin/organizations',
      '/api/admin/organizations/{id}',
      '/api/admin/organizations/{id}/members',
      '/api/admin/organizations/{id}/members/{userId}',
      '/api/admin/organizations/{id}/transfer',
      '/api/admin/service-clients',
      '/api/admin/service-clients/{id}',
      '/api/admin/service-clients/{id}/rotate',
      '/api/admin/usage',
      '/api/admin/usage/events',
      '/api/admin/users',
      '/api/admin/users/{id}',
      '/api/admin/users/{id}/credits',
      '/api/admin/users/{id}/spend',
      '/api/guard/auth',
      '/api/guard/log-usage',
      '/api/health/live',
      '/api/health/ready',
    ]);
    expect(Object.keys(body.components.securitySchemes).sort()).toEqual([
      'ApiKey',
      'SecretKey',
      'admin',
    ]);
    expect(body.components.schemas).toHaveProperty('ErrorResponseDto');
    const explorer = await http.request('GET', '/docs');
    expect(explorer.status).toBe(200);
    expect(explorer.text).toContain('swagger');
  });

  it('answers unknown routes and bad media types with the error body', async () => {
    const missing = await http.request('GET', '/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404, code: 'route_not_found' });
    expect(missing.body.request_id).toBe(missing.headers.get('x-request-id'));

    const tooLarge = await http.request('POST', '/api/guard/log-usage', {
      raw: JSON.stringify({ messages: 'x'.repeat(testApp.config.bodyLimitBytes) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('payload_too_large');

    const xml = await http.request('POST', '/api/admin/users', {
      raw: '<user/>',
      headers: { 'content-type': 'application/xml', authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(xml.status).toBe(415);
    expect(xml.body.code).toBe('unsupported_media_type');
  });
});
