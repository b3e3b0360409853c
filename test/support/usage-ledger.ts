import pg from 'pg';
import { createOrganization, createTenant, guardHeaders } from './factories.js';
import type { Http } from './http.js';
import type { UsageLane, UsageLoad } from './usage-load.js';

/** One statement on a connection of its own, outside the service's pool. */
export async function queryOnce<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Two payers and three ways to be billed: A's key, B's key, and B's key on an organization A
 * owns (A pays), so that batches charge several payers.
 */
export async function createUsageLanes(http: Http): Promise<UsageLane[]> {
  const a = await createTenant(http);
  const b = await createTenant(http);
  const organization = await createOrganization(http, a.userId, 'Lanes');
  const member = await http.admin('POST', `/organizations/${organization.id}/members`, {
    user_id: b.userId,
    role: 'manager',
  });
  if (member.status !== 201) throw new Error(`member not added: ${member.status} ${member.text}`);
  return [
    {
      name: 'a',
      headers: guardHeaders(a),
      apiKeyId: a.apiKeyId,
      payerUserId: a.userId,
      organizationId: null,
    },
    {
      name: 'b',
      headers: guardHeaders(b),
      apiKeyId: b.apiKeyId,
      payerUserId: b.userId,
      organizationId: null,
    },
    {
      name: 'b for the organization',
      headers: guardHeaders(b, { 'Swarms-Organization': organization.public_id }),
      apiKeyId: b.apiKeyId,
      payerUserId: a.userId,
      organizationId: organization.id,
    },
  ];
}

export interface PayerBalance {
  user_id: string;
  before: string;
}

/** Each payer's free plus paid credit, as numeric text. */
export function payerBalances(url: string, lanes: UsageLane[]): Promise<PayerBalance[]> {
  return queryOnce<PayerBalance>(
    url,
    `SELECT user_id, (paid + free)::text AS before FROM user_credits WHERE user_id = ANY ($1::uuid[])`,
    [[...new Set(lanes.map((lane) => lane.payerUserId))]],
  );
}

/** What the database holds for a load's calls, against what the clients were told. */
export interface LedgerFindings {
  calls: number;
  acknowledged: number;
  /** Calls answered with a status that is neither 201 nor retried. */
  refused: number;
  /** Rows on the load's keys. */
  rows: number;
  /** request_ids with other than exactly one row. */
  notOnce: unknown[];
  /** Acknowledged calls whose row is missing or differs from their 201 (id, cost, payer). */
  mismatched: unknown[];
  /** Payers whose debit is not the sum of their rows' cost. */
  payersOff: unknown[];
}

/**
 * Compares a load's acknowledgements with the rows: each 201 named its row (id, cost, payer,
 * organization), each request_id has one row, and each payer was debited exactly its rows.
 */
export async function ledgerFindings(
  url: string,
  load: UsageLoad,
  before: PayerBalance[],
): Promise<LedgerFindings> {
  const keys = [...new Set(load.calls.map((call) => call.lane.apiKeyId))];
  const notOnce = await queryOnce(
    url,
    `SELECT request_id, count(*)::int AS rows FROM usage_events
     WHERE api_key_id = ANY ($1::uuid[]) GROUP BY api_key_id, request_id
     HAVING count(*) <> 1 OR request_id IS NULL LIMIT 5`,
    [keys],
  );
  const [{ rows }] = await queryOnce<{ rows: number }>(
    url,
    `SELECT count(*)::int AS rows FROM usage_events WHERE api_key_id = ANY ($1::uuid[])`,
    [keys],
  );
  const answered = [...load.acknowledged.values()].map((ack) => ({
    request_id: ack.call.requestId,
    api_key_id: ack.call.lane.apiKeyId,
    payer_user_id: ack.call.lane.payerUserId,
    organization_id: ack.call.lane.organizationId,
    id: ack.id,
    total: ack.total,
  }));
  const mismatched = await queryOnce(
    url,
    `SELECT a.request_id, a.id AS answered_id, e.id AS stored_id,
       a.total::text AS answered_total, e.total_cost::text AS stored_total
     FROM jsonb_to_recordset($1::jsonb) AS a(request_id text, api_key_id uuid,
       payer_user_id uuid, organization_id uuid, id uuid, total numeric)
     LEFT JOIN usage_events e ON e.api_key_id = a.api_key_id AND e.request_id = a.request_id
     WHERE e.id IS DISTINCT FROM a.id OR e.total_cost IS DISTINCT FROM a.total
       OR e.payer_user_id IS DISTINCT FROM a.payer_user_id
       OR e.organization_id IS DISTINCT FROM a.organization_id
     LIMIT 5`,
    [JSON.stringify(answered)],
  );
  const payersOff = await queryOnce(
    url,
    `SELECT b.user_id, (b.before - (c.paid + c.free))::text AS debit, s.spent::text AS spent
     FROM jsonb_to_recordset($1::jsonb) AS b(user_id uuid, before numeric)
     JOIN user_credits c ON c.user_id = b.user_id
     CROSS JOIN LATERAL (SELECT COALESCE(sum(total_cost), 0) AS spent
                         FROM usage_events WHERE payer_user_id = b.user_id) s
     WHERE b.before - (c.paid + c.free) <> s.spent OR s.spent = 0`,
    [JSON.stringify(before)],
  );
  return {
    calls: load.calls.length,
    acknowledged: load.acknowledged.size,
    refused: load.refused.size,
    rows,
    notOnce,
    mismatched,
    payersOff,
  };
}

/** The findings of a load whose every call was acknowledged, stored once and charged once. */
export function exactLedger(calls: number): LedgerFindings {
  return {
    calls,
    acknowledged: calls,
    refused: 0,
    rows: calls,
    notOnce: [],
    mismatched: [],
    payersOff: [],
  };
}
