import { randomUUID } from 'node:crypto';
import { hashSecret } from '../src/common/crypto.js';
import { generateApiKey } from '../src/auth/secrets.js';
import { createTestDatabase } from './support/database.js';
import { seedUsageBody } from './support/factories.js';
import { Http, type HttpResponse } from './support/http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';

interface Sent {
  id: string;
  method: string;
  route: string;
  status: number;
  decision?: string;
}

/** Every string of a JSON answer held under a name that carries a secret. */
function secretsIn(body: unknown, found: string[] = []): string[] {
  if (Array.isArray(body)) body.forEach((item) => secretsIn(item, found));
  else if (body !== null && typeof body === 'object') {
    for (const [name, value] of Object.entries(body)) {
      if (typeof value === 'string' && /^(key|secret_key)$/.test(name)) found.push(value);
      else secretsIn(value, found);
    }
  }
  return found;
}

/** The built service in production, at LOG_LEVEL=info, through real traffic; then its whole output. */
describe('logs', () => {
  let database: { url: string; drop: () => Promise<void> };
  let service: ServiceProcess;
  let http: Http;
  const sent: Sent[] = [];
  const secrets: string[] = [ADMIN_TOKEN];

  beforeAll(async () => {
    database = await createTestDatabase();
    service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
    });
    await service.ready();
    http = new Http(service.baseUrl);
  });

  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  /** Sends a call, keeps every secret its answer holds, and what its log line must say. */
  async function send(
    method: string,
    path: string,
    expected: Omit<Sent, 'id' | 'method'>,
    options: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<HttpResponse> {
    const response = await http.request(method, path, options);
    expect({ path, status: response.status }).toEqual({ path, status: expected.status });
    secrets.push(...secretsIn(response.body));
    sent.push({ id: response.headers.get('x-request-id') ?? '', method, ...expected });
    return response;
  }

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  it('writes one JSON line per request, with its id, route, status, latency and decision, and no secret', async () => {
    // Admin calls whose answers hold fresh secrets.
    await send(
      'PUT',
      '/api/admin/models/cogvlm-chat-17b',
      { route: '/api/admin/models/:unique_name', status: 200 },
      {
        headers: admin,
        body: { price_million_input: 0.5, price_million_output: 0.5 },
      },
    );
    const user = await send(
      'POST',
      '/api/admin/users',
      { route: '/api/admin/users', status: 201 },
      {
        headers: admin,
        body: {},
      },
    );
    await send(
      'POST',
      `/api/admin/users/${user.body.id}/credits`,
      { route: '/api/admin/users/:id/credits', status: 201 },
      {
        headers: admin,
        body: { amount: 10 },
      },
    );
    const client = await send(
      'POST',
      '/api/admin/service-clients',
      { route: '/api/admin/service-clients', status: 201 },
      {
        headers: admin,
        body: { name: 'model-server' },
      },
    );
    const key = await send(
      'POST',
      '/api/admin/api-keys',
      { route: '/api/admin/api-keys', status: 201 },
      {
        headers: admin,
        body: { user_id: user.body.id, name: 'logged' },
      },
    );
    const legacyKey = `sk-legacy-${randomUUID()}`;
    secrets.push(legacyKey);
    await send(
      'POST',
      '/api/admin/api-keys/import',
      { route: '/api/admin/api-keys/import', status: 201 },
      {
        headers: admin,
        body: { user_id: user.body.id, name: 'old', key: legacyKey },
      },
    );
    const rotatedKey = await send(
      'POST',
      `/api/admin/api-keys/${key.body.id}/rotate`,
      { route: '/api/admin/api-keys/:id/rotate', status: 200 },
      {
        headers: admin,
        body: { grace_seconds: 600 },
      },
    );
    const rotatedClient = await send(
      'POST',
      `/api/admin/service-clients/${client.body.id}/rotate`,
      { route: '/api/admin/service-clients/:id/rotate', status: 200 },
      {
        headers: admin,
        body: { grace_seconds: 600 },
      },
    );
    const wrongAdminToken = `wrong-admin-token-${randomUUID()}`;
    secrets.push(wrongAdminToken);
    await send(
      'GET',
      '/api/admin/users',
      { route: '/api/admin/users', status: 401 },
      {
        headers: { authorization: `Bearer ${wrongAdminToken}` },
      },
    );

    const apiKey: string = rotatedKey.body.key;
    const secretKey: string = rotatedClient.body.secret_key;
    const unknownKey = generateApiKey();
    const unknownSecret = `ss-${randomUUID()}`;
    secrets.push(unknownKey, unknownSecret);
    expect(secrets).toEqual(
      expect.arrayContaining([apiKey, secretKey, key.body.key, client.body.secret_key]),
    );
    const model = { model: 'cogvlm-chat-17b' };
    const organization = randomUUID();

    // Guard calls: allowed and refused, with secrets in headers, the query string and a body.
    await send(
      'POST',
      '/api/guard/auth',
      { route: '/api/guard/auth', status: 200, decision: 'ok' },
      {
        headers: {
          Authorization: apiKey,
          SecretKey: secretKey,
          'X-Request-Id': 'logs-e2e-given-id',
        },
        body: model,
      },
    );
    await send(
      'POST',
      `/api/guard/auth?api_key=${unknownKey}`,
      { route: '/api/guard/auth', status: 401, decision: 'invalid_api_key' },
      {
        headers: { Authorization: `Bearer ${unknownKey}`, SecretKey: secretKey },
        body: model,
      },
    );
    await send(
      'POST',
      '/api/guard/auth',
      { route: '/api/guard/auth', status: 401, decision: 'invalid_api_key' },
      {
        headers: { Authorization: legacyKey.slice(0, -1), SecretKey: secretKey },
        body: model,
      },
    );
    await send(
      'POST',
      '/api/guard/auth',
      { route: '/api/guard/auth', status: 401, decision: 'invalid_secret_key' },
      {
        headers: {
          Authorization: apiKey,
          SecretKey: unknownSecret,
          'X-Request-Id': 'x'.repeat(129),
        },
        body: model,
      },
    );
    await send(
      'POST',
      '/api/guard/auth',
      { route: '/api/guard/auth', status: 401, decision: 'secret_key_missing' },
      {
        headers: { Authorization: apiKey },
        body: { ...model, note: apiKey },
      },
    );
    await send(
      'POST',
      '/api/guard/log-usage',
      { route: '/api/guard/log-usage', status: 201, decision: 'ok' },
      {
        headers: { Authorization: apiKey, SecretKey: secretKey, 'Idempotency-Key': randomUUID() },
        body: seedUsageBody(),
      },
    );
    await send(
      'POST',
      '/api/guard/log-usage',
      { route: '/api/guard/log-usage', status: 401, decision: 'invalid_api_key' },
      {
        headers: { Authorization: unknownKey, SecretKey: secretKey },
        body: seedUsageBody(),
      },
    );
    await send(
      'POST',
      '/api/guard/log-usage',
      { route: '/api/guard/log-usage', status: 400, decision: 'validation_failed' },
      {
        headers: { Authorization: legacyKey, SecretKey: secretKey },
        body: seedUsageBody({ input_tokens: -1 }),
      },
    );
    await send(
      'POST',
      '/api/guard/auth',
      { route: '/api/guard/auth', status: 404, decision: 'organization_not_found' },
      {
        headers: {
          Authorization: apiKey,
          SecretKey: secretKey,
          'Swarms-Organization': organization,
        },
        body: model,
      },
    );
    await send(
      'GET',
      `/api/admin/api-keys/${key.body.id}?secret=${apiKey}`,
      { route: '/api/admin/api-keys/:id', status: 200 },
      {
        headers: admin,
      },
    );

    // With its database gone, a call fails on the server: logged as an error, secrets still out.
    await database.drop();
    const failed = await http.request('POST', '/api/guard/log-usage', {
      headers: { Authorization: apiKey, SecretKey: secretKey },
      body: seedUsageBody(),
    });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    sent.push({
      id: failed.headers.get('x-request-id') ?? '',
      method: 'POST',
      route: '/api/guard/log-usage',
      status: failed.status,
      decision: failed.body.code,
    });

    await service.stop();
    const output = service.output();
    const lines = output.split('\n').filter((line) => line !== '');
    const notJson = lines.filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = entries.filter((entry) => entry.msg === 'request');
    for (const call of sent) {
      const matching = requestLines.filter((entry) => entry.request_id === call.id);
      expect({ call: call.id, lines: matching.length }).toEqual({ call: call.id, lines: 1 });
      expect(matching[0]).toEqual(
        expect.objectContaining({
          level: 'info',
          context: 'Http',
          method: call.method,
          route: call.route,
          status: call.status,
          latency_ms: expect.any(Number),
        }),
      );
      expect(matching[0].decision).toBe(call.decision);
      expect(matching[0].latency_ms as number).toBeGreaterThanOrEqual(0);
    }
    // A sane X-Request-Id is kept, any other replaced with a fresh one.
    expect(sent.map((call) => call.id)).toContain('logs-e2e-given-id');
    expect(sent.filter((call) => !/^[\w.:@/+=-]{1,128}$/.test(call.id))).toEqual([]);
    expect(new Set(sent.map((call) => call.id)).size).toBe(sent.length);
    // The readiness probes of the start are requests too: nothing but requests made lines.
    expect(requestLines.length).toBeGreaterThan(sent.length);

    // Censored headers are there, as censored; the organization header and others are kept.
    const allowed = requestLines.find((entry) => entry.request_id === 'logs-e2e-given-id');
    expect(allowed?.headers).toEqual(
      expect.objectContaining({
        authorization: '[redacted]',
        secretkey: '[redacted]',
        'x-request-id': 'logs-e2e-given-id',
      }),
    );

    const kept = requestLines.find((entry) => entry.decision === 'organization_not_found');
    expect(kept?.headers).toEqual(expect.objectContaining({ 'swarms-organization': organization }));
    // The failure is logged, as JSON, with its stack and the id of its request.
    expect(entries.filter((entry) => entry.level === 'error')).toEqual([
      expect.objectContaining({
        context: 'Errors',
        request_id: sent.at(-1)!.id,
        stack: expect.stringContaining('does not exist'),
      }),
    ]);

    const leaked = [...new Set(secrets)]
      .flatMap((secret) => [secret, hashSecret(secret).toString('hex')])
      .filter((text) => output.includes(text));
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    expect(leaked).toEqual([]);
  });
});
