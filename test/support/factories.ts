import { SEED_USAGE_BODY } from '../../src/auth/seed-examples.js';
import type { Http } from './http.js';

export interface Tenant {
  userId: string;
  apiKey: string;
  apiKeyId: string;
  secretKey: string;
  serviceClientId: string;
  model: string;
}

async function expectCreated<T = any>(promise: Promise<{ status: number; body: T; text: string }>) {
  const response = await promise;
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`Factory call failed: ${response.status} ${response.text}`);
  }
  return response.body;
}

export async function putModel(
  http: Http,
  name = 'cogvlm-chat-17b',
  input = 0.5,
  output = 0.5,
  enabled?: boolean,
) {
  return expectCreated(
    http.admin('PUT', `/models/${encodeURIComponent(name)}`, {
      price_million_input: input,
      price_million_output: output,
      ...(enabled === undefined ? {} : { enabled }),
    }),
  );
}

export async function createUser(http: Http, body: Record<string, unknown> = {}) {
  return expectCreated<{ id: string }>(http.admin('POST', '/users', body));
}

export async function addCredit(http: Http, userId: string, body: Record<string, unknown>) {
  return expectCreated(http.admin('POST', `/users/${userId}/credits`, body));
}

export async function createServiceClient(http: Http, name = 'model-server') {
  return expectCreated<{ id: string; secret_key: string }>(
    http.admin('POST', '/service-clients', { name }),
  );
}

export async function createApiKey(http: Http, userId: string, body: Record<string, unknown> = {}) {
  return expectCreated<{ id: string; key: string }>(
    http.admin('POST', '/api-keys', { user_id: userId, name: 'test', ...body }),
  );
}

export async function createOrganization(http: Http, ownerUserId: string, name = 'Org') {
  return expectCreated<{ id: string; public_id: string }>(
    http.admin('POST', '/organizations', { name, owner_user_id: ownerUserId }),
  );
}

export async function addMember(
  http: Http,
  organizationId: string,
  userId: string,
  role: 'manager' | 'reader' = 'reader',
) {
  return expectCreated(
    http.admin('POST', `/organizations/${organizationId}/members`, { user_id: userId, role }),
  );
}

/** `PATCH /organizations/:id`: budget, time zone, spend roles, name. */
export async function updateOrganization(
  http: Http,
  organizationId: string,
  body: Record<string, unknown>,
) {
  return expectCreated(http.admin('PATCH', `/organizations/${organizationId}`, body));
}

/** A user with credit, a key, a service client and a priced model: ready to call the guard. */
export async function createTenant(
  http: Http,
  options: { credit?: number; user?: Record<string, unknown>; key?: Record<string, unknown> } = {},
): Promise<Tenant> {
  await putModel(http);
  const user = await createUser(http, options.user);
  if ((options.credit ?? 10) > 0) {
    await addCredit(http, user.id, { amount: options.credit ?? 10 });
  }
  const client = await createServiceClient(http);
  const key = await createApiKey(http, user.id, options.key);
  return {
    userId: user.id,
    apiKey: key.key,
    apiKeyId: key.id,
    secretKey: client.secret_key,
    serviceClientId: client.id,
    model: 'cogvlm-chat-17b',
  };
}

export function guardHeaders(tenant: Tenant, extra: Record<string, string> = {}) {
  return { Authorization: tenant.apiKey, SecretKey: tenant.secretKey, ...extra };
}

/** The seed's log-usage body, with changes. */
export function seedUsageBody(overrides: Record<string, unknown> = {}) {
  return { ...SEED_USAGE_BODY, ...overrides };
}

/** A digest of every row of every table: equal before and after means nothing changed. */
export async function databaseFingerprint(db: {
  query: (sql: string) => Promise<{ rows: { table: string; digest: string }[] }>;
}): Promise<Record<string, string>> {
  const tables = [
    'users',
    'user_credits',
    'monthly_spend',
    'organizations',
    'organization_members',
    'api_keys',
    'service_clients',
    'models',
    'model_prices',
    'usage_events',
    'usage_requests',
    'usage_replays',
    'usage_daily',
    'usage_hourly',
    'usage_daily_platform',
    'usage_hourly_platform',
    'reservations',
    'organization_monthly_spend',
    'api_key_hashes',
    'api_key_monthly_spend',
    'service_client_secrets',
    'audit_log',
  ];
  const sql = tables
    .map(
      (table) =>
        `SELECT '${table}' AS table, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest FROM ${table} t`,
    )
    .join(' UNION ALL ');
  const { rows } = await db.query(sql);
  return Object.fromEntries(rows.map((row) => [row.table, row.digest]));
}
