import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import pg from 'pg';
import {
  authenticate,
  authPayload,
  logUsage,
  logUsagePayload,
  type Credentials,
} from './openapi-client/seed-client.js';
import {
  createTenant,
  databaseFingerprint,
  guardHeaders,
  type Tenant,
} from './support/factories.js';
import { createTestDatabase } from './support/database.js';
import { Http } from './support/http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';

const AUTH = '/api/guard/auth';
const LOG_USAGE = '/api/guard/log-usage';
const ERROR_BODY = '#/components/schemas/ErrorResponseDto';

/**
 * Checks values against the document's own schemas (OpenAPI 3.0 schemas are JSON Schema plus
 * `nullable`, which Ajv knows, and `example`, which it ignores). Formats are not checked.
 */
function schemaChecker(document: any) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ components: document.components }, 'openapi.json');
  return (schema: any, value: unknown): string[] => {
    const validate = schema.$ref
      ? ajv.getSchema(`openapi.json${schema.$ref}`)!
      : ajv.compile({ ...schema, $id: undefined });
    return validate(value)
      ? []
      : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
  };
}

function operationsOf(document: any): [string, string, any][] {
  return Object.entries(document.paths).flatMap(([path, item]: [string, any]) =>
    Object.entries(item).map(
      ([method, operation]) => [path, method, operation] as [string, string, any],
    ),
  );
}

/** The document `.ci/check-openapi.sh` lints: written by the built CLI, without a database. */
async function offlineDocument(): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'openapi-'));
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    await promisify(execFile)(
      process.execPath,
      ['dist/openapi/openapi.cli.js', join(dir, 'openapi.json')],
      { env },
    );
    return JSON.parse(await readFile(join(dir, 'openapi.json'), 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The document as the built service serves it (the Swagger plugin that reads the DTOs runs in
 * `nest build` only, and `npm test` builds first), and that service's answers checked against it.
 */
describe('OpenAPI document', () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: pg.Pool;
  let service: ServiceProcess;
  let http: Http;
  let document: any;
  let check: ReturnType<typeof schemaChecker>;
  let tenant: Tenant;

  const schemaOf = (name: string) => document.components.schemas[name];
  const requestSchema = (path: string) =>
    document.paths[path].post.requestBody.content['application/json'].schema;
  const responseOf = (path: string, method: string, status: number) =>
    document.paths[path][method].responses[String(status)];

  /** Asserts an answer of the service is what the document says this route answers. */
  function expectDocumented(
    path: string,
    method: string,
    answer: { status: number; body: unknown },
  ): void {
    const documented = responseOf(path, method, answer.status);
    expect(documented).toBeDefined();
    expect(check(documented.content['application/json'].schema, answer.body)).toEqual([]);
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new pg.Pool({ connectionString: database.url, max: 2 });
    service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      DEFAULT_RPM_LIMIT: '1000',
      LOG_LEVEL: 'warn',
    });
    await service.ready();
    http = new Http(service.baseUrl);
    const served = await http.request('GET', '/docs/openapi.json');
    expect(served.status).toBe(200);
    document = served.body;
    check = schemaChecker(document);
    tenant = await createTenant(http);
  });
  afterAll(async () => {
    await service?.stop();
    await db?.end();
    await database?.drop();
  });

  it('is the document CI lints: built without a database, it equals the served one', async () => {
    expect(await offlineDocument()).toEqual(document);
  });

  it('types messages as any JSON on both guard routes, with the original array as example', () => {
    for (const name of ['AuthRequestDto', 'RecordUsageDto']) {
      const messages = schemaOf(name).properties.messages;
      expect(messages).not.toHaveProperty('type');
      expect(messages).not.toHaveProperty('anyOf');
      expect(messages).not.toHaveProperty('items');
      expect(messages.example).toEqual(authPayload.messages);
      expect(schemaOf(name).required).not.toContain('messages');
    }
  });

  it('types counts as integers and money as the exact decimal numbers the service writes', async () => {
    const usage = schemaOf('RecordUsageDto').properties;
    for (const field of ['input_tokens', 'output_tokens', 'max_tokens']) {
      expect(usage[field].type).toBe('integer');
    }
    expect(usage.temperature.type).toBe('number');
    expect(schemaOf('ErrorResponseDto').properties.status.type).toBe('integer');
    expect(schemaOf('ApiKeyResponseDto').properties.rpm_limit.type).toBe('integer');
    expect(schemaOf('UsageBucketDto').properties.requests.type).toBe('integer');
    const limit = document.paths['/api/admin/api-keys'].get.parameters.find(
      (parameter: any) => parameter.name === 'limit',
    );
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });

    // Money is a JSON number on the wire, not a string: the schema says so.
    for (const [name, field] of [
      ['CreditDto', 'remaining'],
      ['UsageCostDto', 'total'],
      ['ModelResponseDto', 'price_million_input'],
    ]) {
      expect(schemaOf(name).properties[field]).toMatchObject({ type: 'number', format: 'decimal' });
    }
    const answer = await logUsage(credentials());
    expect(answer.status).toBe(201);
    expect(typeof answer.body.cost.total).toBe('number');
    expect(typeof answer.body.credit.remaining).toBe('number');
  });

  it('marks public routes security: [], guard routes SecretKey and ApiKey together, admin routes bearer', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
    for (const [path, method, operation] of operationsOf(document)) {
      if (path.startsWith('/api/health/')) expect(operation.security).toEqual([]);
      else if (path.startsWith('/api/guard/')) {
        expect(operation.security).toEqual([{ SecretKey: [], ApiKey: [] }]);
      } else {
        expect([path, method, operation.security]).toEqual([path, method, [{ admin: [] }]]);
      }
    }
  });

  it('documents each status a route answers, every error with the contract error body', () => {
    const statuses = (path: string, method: string) =>
      Object.keys(document.paths[path][method].responses).map(Number);
    expect(statuses(AUTH, 'post')).toEqual([
      200, 400, 401, 402, 403, 404, 409, 413, 415, 429, 431, 503,
    ]);
    expect(statuses(LOG_USAGE, 'post')).toEqual([
      201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 431, 503,
    ]);
    expect(statuses('/api/health/live', 'get')).toEqual([200, 431]);
    expect(statuses('/api/health/ready', 'get')).toEqual([200, 431, 503]);
    expect(statuses('/api/admin/users/{id}', 'get')).toEqual([200, 400, 401, 404, 431, 503]);
    expect(statuses('/api/admin/users', 'post')).toEqual([201, 400, 401, 409, 413, 415, 431, 503]);
    expect(statuses('/api/admin/models', 'get')).toEqual([200, 401, 431, 503]);

    for (const [path, method, operation] of operationsOf(document)) {
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        expect(response.headers['X-Request-Id']).toBeDefined();
        if (Number(status) < 400) continue;
        expect([path, method, status, response.content['application/json'].schema.$ref]).toEqual([
          path,
          method,
          status,
          ERROR_BODY,
        ]);
      }
      if (operation.requestBody) expect(operation.responses['413']).toBeDefined();
    }
    for (const path of [AUTH, LOG_USAGE]) {
      expect(responseOf(path, 'post', 429).headers['Retry-After']).toMatchObject({
        required: true,
        schema: { type: 'integer' },
      });
      expect(responseOf(path, 'post', 503).headers['Retry-After'].required).toBe(true);
    }
    expect(schemaOf('ErrorResponseDto').required).toEqual([
      'status',
      'message',
      'code',
      'request_id',
    ]);
    expect(schemaOf('ErrorResponseDto').properties.errors.items.$ref).toBe(
      '#/components/schemas/FieldErrorDto',
    );
  });

  it("accepts the original document's two bodies, and refuses what the service refuses", () => {
    expect(check(requestSchema(AUTH), authPayload)).toEqual([]);
    expect(check(requestSchema(LOG_USAGE), logUsagePayload)).toEqual([]);
    // messages is any JSON: a string or an object too.
    expect(check(requestSchema(LOG_USAGE), { ...logUsagePayload, messages: 'hi' })).toEqual([]);
    // Auth ignores fields it does not read; log-usage refuses them.
    expect(check(requestSchema(AUTH), { ...authPayload, stream: true })).toEqual([]);
    expect(check(requestSchema(LOG_USAGE), { ...logUsagePayload, stream: 'yes' })).not.toEqual([]);
    expect(check(requestSchema(LOG_USAGE), { ...logUsagePayload, extra: 1 })).not.toEqual([]);
    expect(
      check(requestSchema(LOG_USAGE), { ...logUsagePayload, input_tokens: '100' }),
    ).not.toEqual([]);
    expect(check(requestSchema(LOG_USAGE), { ...logUsagePayload, output_tokens: 1.5 })).not.toEqual(
      [],
    );
    expect(check(requestSchema(AUTH), { messages: authPayload.messages })).not.toEqual([]);
  });

  it('the service refuses the bodies the document refuses, and stores nothing', async () => {
    const before = await databaseFingerprint(db);
    for (const body of [
      { ...logUsagePayload, extra: 1 },
      { ...logUsagePayload, input_tokens: '100' },
      { ...logUsagePayload, output_tokens: 1.5 },
    ]) {
      const answer = await http.post(LOG_USAGE, body, guardHeaders(tenant));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'validation_failed' });
      expectDocumented(LOG_USAGE, 'post', answer);
    }
    expect(await databaseFingerprint(db)).toEqual(before);
  });

  it('the original clients, typed from the document, get the answers it describes', async () => {
    const { rows: before } = await db.query(
      'SELECT count(*)::int AS n FROM usage_events WHERE api_key_id = $1',
      [tenant.apiKeyId],
    );

    const auth = await authenticate(credentials());
    expect(auth.status).toBe(200);
    expect(auth.body).toMatchObject({ status: 200, message: 'Success', model: 'cogvlm-chat-17b' });
    expectDocumented(AUTH, 'post', auth);

    const usage = await logUsage(credentials());
    expect(usage.status).toBe(201);
    expect(usage.body.cost).toMatchObject({ input: 0.00005, output: 0.00004, total: 0.00009 });
    expectDocumented(LOG_USAGE, 'post', usage);

    const { rows } = await db.query(
      `SELECT input_tokens, output_tokens, max_tokens, client_total_cost::text, messages
       FROM usage_events WHERE id = $1`,
      [usage.body.id],
    );
    expect(rows).toEqual([
      {
        input_tokens: 100,
        output_tokens: 80,
        max_tokens: 200,
        client_total_cost: '0.8',
        messages: logUsagePayload.messages,
      },
    ]);
    const { rows: after } = await db.query(
      'SELECT count(*)::int AS n FROM usage_events WHERE api_key_id = $1',
      [tenant.apiKeyId],
    );
    expect(after[0].n).toBe(before[0].n + 1);
  });

  it('describes what the guard answers when it refuses', async () => {
    const noSecret = await http.post(AUTH, authPayload, { Authorization: tenant.apiKey });
    expect(noSecret.status).toBe(401);
    expectDocumented(AUTH, 'post', noSecret);

    const unknownModel = await http.post(
      AUTH,
      { ...authPayload, model: 'no-such-model' },
      guardHeaders(tenant),
    );
    expect(unknownModel.status).toBe(404);
    expectDocumented(AUTH, 'post', unknownModel);
  });

  it('describes what the admin API answers: pages, reports, CSV, errors', async () => {
    const keys = await http.admin('GET', `/api-keys?user_id=${tenant.userId}&limit=1`);
    expect(keys.status).toBe(200);
    expect(keys.body.items).toHaveLength(1);
    expectDocumented('/api/admin/api-keys', 'get', keys);

    const audit = await http.admin('GET', '/audit?limit=2');
    expect(audit.status).toBe(200);
    expect(audit.body.next_cursor).not.toBeNull();
    expectDocumented('/api/admin/audit', 'get', audit);

    const events = await http.admin('GET', `/usage/events?api_key_id=${tenant.apiKeyId}&limit=1`);
    expect(events.status).toBe(200);
    expect(events.body.items).toHaveLength(1);
    expectDocumented('/api/admin/usage/events', 'get', events);

    const report = await http.admin('GET', '/usage?group_by=model,api_key,organization,user');
    expect(report.status).toBe(200);
    expect(report.body.buckets.length).toBeGreaterThan(0);
    expectDocumented('/api/admin/usage', 'get', report);

    const spend = await http.admin('GET', `/users/${tenant.userId}/spend`);
    expect(spend.status).toBe(200);
    expectDocumented('/api/admin/users/{id}/spend', 'get', spend);

    const csv = await http.request('GET', '/api/admin/usage/events?limit=1', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/csv' },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(Object.keys(responseOf('/api/admin/usage/events', 'get', 200).content)).toEqual([
      'application/json',
      'text/csv',
    ]);
    const documentedColumns = Object.keys(schemaOf('UsageEventResponseDto').properties).sort();
    expect(csv.text.split('\r\n')[0].split(',').sort()).toEqual(documentedColumns);

    const invalid = await http.admin('GET', '/users?limit=0');
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors).toEqual([expect.objectContaining({ field: 'limit' })]);
    expectDocumented('/api/admin/users', 'get', invalid);

    const missing = await http.admin('GET', '/users/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expectDocumented('/api/admin/users/{id}', 'get', missing);

    const conflict = await http.admin('POST', '/users', { email: 'same@example.com' });
    expect(conflict.status).toBe(201);
    expectDocumented('/api/admin/users', 'post', conflict);
    const again = await http.admin('POST', '/users', { email: 'same@example.com' });
    expect(again.status).toBe(409);
    expectDocumented('/api/admin/users', 'post', again);
  });

  function credentials(): Credentials {
    return { baseUrl: service.baseUrl, apiKey: tenant.apiKey, secretKey: tenant.secretKey };
  }
});
