import { createHash } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { createTestDatabase } from './support/database.js';
import {
  addCredit,
  addMember,
  createApiKey,
  createOrganization,
  createServiceClient,
  createTenant,
  createUser,
  putModel,
} from './support/factories.js';
import { examplesFor } from './support/fuzz-examples.js';
import {
  buildRequest,
  caseFor,
  describeRequest,
  operationsOf,
  type CaseSpec,
  type FuzzWorld,
  type OpenApiDocument,
  type Operation,
} from './support/fuzz-requests.js';
import { Http } from './support/http.js';
import { rawRequest, type RawRequest, type RawResponse } from './support/raw-http.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-process.js';
import { applicationTables, changedTables, tableDigests } from './support/table-digests.js';
import { ADMIN_TOKEN } from './support/test-app.js';

/** Generated cases per route, besides the fixed hostile ones every route gets (README "Fuzzing"). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** Only the route named so (`POST /api/guard/auth`), to replay one failure. */
const ONLY_ROUTE = process.env.FUZZ_ROUTE;
/** fast-check's replay path of a failure; with FUZZ_ROUTE. */
const REPLAY_PATH = process.env.FUZZ_PATH;

const BODY_LIMIT_BYTES = 2 * 1024 * 1024;
const ERROR_KEYS = new Set(['status', 'message', 'code', 'request_id', 'errors']);

/** Each route's own seed, from the run's seed and its name: adding a route changes no other's cases. */
function seedFor(route: string): number {
  return createHash('sha256').update(`${SEED}:${route}`).digest().readInt32BE(0);
}

/** What is wrong with an answer, by the contract: nothing, for a good one. */
function problemsWith(request: RawRequest, response: RawResponse): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`answered ${response.status}`);
  const requestId = response.headers['x-request-id'];
  if (!requestId) problems.push('no X-Request-Id header');
  if (request.method === 'HEAD') return problems;
  if (response.status < 400) {
    const csv = /^text\/csv/.test(response.headers['content-type'] ?? '');
    if (response.status !== 204 && !csv && response.json === undefined) {
      problems.push(`a ${response.status} answered without a JSON body`);
    }
    return problems;
  }
  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) {
    problems.push(`error answered as ${response.headers['content-type'] ?? 'no content type'}`);
  }
  const body = response.json as Record<string, unknown> | undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return [...problems, 'error body is not a JSON object'];
  }
  const extra = Object.keys(body).filter((key) => !ERROR_KEYS.has(key));
  if (extra.length) problems.push(`error body has keys ${extra.join(', ')}`);
  if (body.status !== response.status) problems.push(`body status ${String(body.status)}`);
  if (typeof body.message !== 'string' || body.message === '') problems.push('no message');
  if (typeof body.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(body.code)) {
    problems.push(`code ${JSON.stringify(body.code)} is not snake_case`);
  }
  if (typeof body.request_id !== 'string' || body.request_id !== requestId) {
    problems.push(`request_id ${JSON.stringify(body.request_id)} is not the X-Request-Id header`);
  }
  if (body.errors !== undefined) {
    const wellFormed =
      Array.isArray(body.errors) &&
      body.errors.every(
        (error: { field?: unknown; message?: unknown }) =>
          typeof error?.field === 'string' && typeof error?.message === 'string',
      );
    if (body.code !== 'validation_failed')
      problems.push('errors on a code other than validation_failed');
    if (!wellFormed) problems.push('errors is not a list of {field, message}');
  }
  return problems;
}

describe('every route of the served OpenAPI document, fuzzed', () => {
  let database: { url: string; drop: () => Promise<void> };
  let service: ServiceProcess;
  let db: pg.Pool;
  let world: FuzzWorld;
  let operations: Operation[];
  let tables: string[];
  let digest: Record<string, string>;
  let sent = 0;
  const statuses = new Map<number, number>();
  const byRoute = new Map<string, Map<string, number>>();

  beforeAll(async () => {
    // The built service, as it ships: its OpenAPI document has every DTO field (the Swagger
    // plugin runs in `nest build`, not under ts-jest), and it is what gets fuzzed.
    database = await createTestDatabase();
    service = spawnService(await freePort(), {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      METRICS_PORT: String(await freePort()),
      BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      DEFAULT_RPM_LIMIT: '10000000',
      // No reservation expires (and is released by the sweep) during a long campaign.
      RESERVATION_TTL_SECONDS: '86400',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    });
    await service.ready();
    db = new pg.Pool({ connectionString: database.url, max: 2 });
    const http = new Http(service.baseUrl);

    const tenant = await createTenant(http, { credit: 1_000_000 });
    const organization = await createOrganization(http, tenant.userId, 'Fuzzed');
    await putModel(http, 'fuzz-model-b', 1, 2);
    const users = [
      await createUser(http, { email: 'fuzz-prepaid@example.com' }),
      await createUser(http, { credit_plan: 'invoice', credit_limit: 100 }),
      await createUser(http, { credit_plan: 'invoice' }),
    ];
    for (const user of users) await addCredit(http, user.id, { amount: 100 });
    const keys = [];
    for (const user of users) keys.push(await createApiKey(http, user.id));
    const organizations = [
      await createOrganization(http, users[0].id, 'Target A'),
      await createOrganization(http, users[1].id, 'Target B'),
    ];
    await addMember(http, organizations[0].id, users[1].id, 'manager');
    await addMember(http, organizations[0].id, tenant.userId, 'reader');
    const clients = [await createServiceClient(http, 'a'), await createServiceClient(http, 'b')];
    const otherApiKeys = [
      await createApiKey(http, tenant.userId, { allowed_models: ['fuzz-model-b'] }),
      await createApiKey(http, tenant.userId, { rpm_limit: 1 }),
      await createApiKey(http, tenant.userId, { limit_credit_dollar: 0 }),
      await createApiKey(http, users[2].id),
    ].map((key) => key.key);
    const broke = await createUser(http);
    otherApiKeys.push((await createApiKey(http, broke.id)).key);
    const revoked = await createApiKey(http, users[0].id);
    expect((await http.admin('DELETE', `/api-keys/${revoked.id}`)).status).toBe(204);

    const ids = {
      users: users.map((user) => user.id),
      organizations: organizations.map((org) => org.id),
      'api-keys': keys.map((key) => key.id),
      'service-clients': clients.map((client) => client.id),
      models: ['fuzz-model-b', 'never-created-model'],
    };
    world = {
      adminToken: ADMIN_TOKEN,
      secretKey: tenant.secretKey,
      apiKey: tenant.apiKey,
      organizationPublicId: organization.public_id,
      otherApiKeys,
      otherOrganizationPublicIds: organizations.map((org) => org.public_id),
      model: tenant.model,
      revokedApiKey: revoked.key,
      bodyLimitBytes: BODY_LIMIT_BYTES,
      ids,
      allIds: [
        ...ids.users,
        ...ids.organizations,
        ...organizations.map((org) => org.public_id),
        ...ids['api-keys'],
        ...ids['service-clients'],
      ],
    };

    const document = await http.request<OpenApiDocument>('GET', '/docs/openapi.json');
    expect(document.status).toBe(200);
    operations = operationsOf(document.body).filter(
      (operation) => ONLY_ROUTE === undefined || operation.name === ONLY_ROUTE,
    );
    // The guard's decision counts are telemetry: every answered guard call, 4xx included, is
    // counted (docs/decisions.md), so they change whatever the request.
    tables = (await applicationTables(db)).filter((table) => table !== 'guard_decisions_hourly');
    digest = await tableDigests(db, tables);
  });
  afterAll(async () => {
    await db?.end();
    await service?.stop();
    await database?.drop();
  });

  /** What the service logged about one request (its stack, on a 500). */
  function serviceLog(requestId: string | undefined): string[] {
    if (!requestId) return [];
    const lines = service
      .output()
      .split('\n')
      .filter((line) => line.includes(requestId));
    return lines.length ? ['service log:', ...lines.map((line) => line.slice(0, 2000))] : [];
  }

  async function check(operation: Operation, spec: CaseSpec): Promise<void> {
    const request = buildRequest(operation, spec);
    const response = await rawRequest(service.baseUrl, request).catch((error: Error) => {
      const state = service.running() ? 'running' : 'exited';
      throw new Error(
        `${error.message} (service ${state})\nrequest:\n${describeRequest(request, spec.body?.label)}\nservice output ends:\n${service.output().slice(-3000)}`,
      );
    });
    sent++;
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const answers = byRoute.get(operation.name) ?? new Map<string, number>();
    const answer =
      `${response.status} ${(response.json as { code?: string } | undefined)?.code ?? ''}`.trim();
    answers.set(answer, (answers.get(answer) ?? 0) + 1);
    byRoute.set(operation.name, answers);
    const problems = problemsWith(request, response);
    const before = digest;
    digest = await tableDigests(db, tables);
    if (response.status >= 400) {
      const changed = changedTables(before, digest);
      if (changed.length) problems.push(`a ${response.status} changed ${changed.join(', ')}`);
    }
    if (problems.length) {
      throw new Error(
        [
          problems.join('; '),
          'request:',
          describeRequest(request, spec.body?.label),
          `answer: ${response.status} ${response.text.slice(0, 500)}`,
          ...serviceLog(response.headers['x-request-id']),
        ].join('\n'),
      );
    }
  }

  it(
    'answers every generated request below 500, errors in the contract shape, writing nothing on a 4xx',
    async () => {
      expect(operations.length).toBeGreaterThan(ONLY_ROUTE ? 0 : 30);
      const failures: string[] = [];
      for (const operation of operations) {
        if (!service.running()) {
          failures.push(`the service exited; its output ends:\n${service.output().slice(-3000)}`);
          break;
        }
        const printable = (spec: CaseSpec) =>
          Object.assign(spec, {
            [fc.toStringMethod]: () =>
              describeRequest(buildRequest(operation, spec), spec.body?.label),
          });
        const examples = examplesFor(operation, world).map(
          (spec) => [printable(spec)] as [CaseSpec],
        );
        try {
          await fc.assert(
            fc.asyncProperty(caseFor(operation, world).map(printable), (spec) =>
              check(operation, spec),
            ),
            {
              seed: seedFor(operation.name),
              numRuns: examples.length + RUNS,
              examples,
              includeErrorInReport: true,
              ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
            },
          );
        } catch (error) {
          failures.push(
            `${operation.name} — replay: FUZZ_SEED=${SEED} FUZZ_ROUTE='${operation.name}'\n${(error as Error).message}`,
          );
        }
      }
      process.stdout.write(
        `fuzz: ${sent} requests over ${operations.length} routes (FUZZ_RUNS=${RUNS} generated per route besides the fixed cases, FUZZ_SEED=${SEED}); statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}\n`,
      );
      if (process.env.FUZZ_VERBOSE) {
        for (const [route, answers] of byRoute) {
          const counts = [...answers].sort(([a], [b]) => a.localeCompare(b));
          process.stdout.write(`${route}: ${counts.map(([a, n]) => `${a}×${n}`).join(', ')}\n`);
        }
      }
      expect(failures).toEqual([]);
    },
    300_000 + RUNS * 2_000,
  );
});
