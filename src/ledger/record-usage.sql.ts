import { standingInvalidationSql } from '../auth-cache/invalidation.js';
import {
  CURRENT_HOUR,
  UTC_DAY,
  UTC_MONTH,
  organizationMonth,
  payerRemaining,
  prepaidAvailable,
  prepaidDebit,
  tokenCost,
} from './ledger-sql.js';

/** One call of a batch, as the statement reads it from its JSON parameter. */
export interface UsageCallRow {
  /** The call's place in the batch: charges apply in this order. */
  pos: number;
  id: string;
  api_key_id: string;
  user_id: string;
  payer_user_id: string;
  organization_id: string | null;
  service_client_id: string;
  model_id: string;
  input_tokens: number;
  output_tokens: number;
  max_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  echo: boolean | null;
  stream: boolean | null;
  client_input_cost: string | null;
  client_output_cost: string | null;
  client_total_cost: string | null;
  messages: string | null;
  messages_bytes: number | null;
  request_id: string | null;
  /** Hex of the request hash. */
  request_hash: string | null;
  reservation_id: string | null;
}

const CALL_COLUMNS = `pos int, id uuid, api_key_id uuid, user_id uuid, payer_user_id uuid,
  organization_id uuid, service_client_id uuid, model_id uuid, input_tokens integer,
  output_tokens integer, max_tokens integer, temperature double precision, top_p double precision,
  echo boolean, stream boolean, client_input_cost numeric, client_output_cost numeric,
  client_total_cost numeric, messages text, messages_bytes integer, request_id text,
  request_hash text, reservation_id uuid`;

/** A rollup: its table, its period column and value, and the rows it keeps apart. */
interface Rollup {
  table: string;
  period: 'day' | 'hour';
  periodValue: string;
  /** The columns a row of the rollup is per, as grouped. */
  columns: string[];
  /** Its unique key after the period ("no organization" counts as one organization). */
  conflict: string;
}

const PAYER_COLUMNS = ['api_key_id', 'user_id', 'payer_user_id', 'organization_id', 'model_id'];
const PAYER_CONFLICT = `api_key_id, model_id, payer_user_id,
  COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid)`;

const ROLLUPS: Record<string, Rollup> = {
  daily: {
    table: 'usage_daily',
    period: 'day',
    periodValue: UTC_DAY,
    columns: PAYER_COLUMNS,
    conflict: PAYER_CONFLICT,
  },
  hourly: {
    table: 'usage_hourly',
    period: 'hour',
    periodValue: CURRENT_HOUR,
    columns: PAYER_COLUMNS,
    conflict: PAYER_CONFLICT,
  },
  // The whole platform per model: what reports without a payer, organization or key filter read.
  platform_daily: {
    table: 'usage_daily_platform',
    period: 'day',
    periodValue: UTC_DAY,
    columns: ['model_id'],
    conflict: 'model_id',
  },
  platform_hourly: {
    table: 'usage_hourly_platform',
    period: 'hour',
    periodValue: CURRENT_HOUR,
    columns: ['model_id'],
    conflict: 'model_id',
  },
};

/** Adds the batch's recorded events to a rollup: one upsert per row of the rollup touched. */
function rollupSql({ table, period, periodValue, columns, conflict }: Rollup): string {
  const list = columns.join(', ');
  return `
  INSERT INTO ${table} AS r (${period}, ${list}, requests, input_tokens, output_tokens, cost)
  SELECT ${periodValue}, ${list}, count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
  FROM recorded
  GROUP BY ${list}
  ORDER BY ${list}
  ON CONFLICT (${period}, ${conflict})
  DO UPDATE SET requests = r.requests + EXCLUDED.requests,
    input_tokens = r.input_tokens + EXCLUDED.input_tokens,
    output_tokens = r.output_tokens + EXCLUDED.output_tokens,
    cost = r.cost + EXCLUDED.cost`;
}

const before = {
  plan: 'b.credit_plan',
  available: prepaidAvailable({
    paid: 'b.paid',
    free: 'b.free',
    freeExpiresAt: 'b.free_expires_at',
  }),
};

/**
 * Records a batch of usage calls in one statement, in the transaction that has locked their
 * payers', organizations' and keys' rows (in that order, each by id):
 * - each call's `request_id` claim for its key, if it has one; an id claimed before records
 *   nothing (its first call answers, by replay);
 * - each event, priced from its model's current prices (exact numeric), into its month's
 *   partition; a call whose model is gone records nothing;
 * - the reservation each call settles: the one it names by `reservation_id`, else the one its
 *   `request_id` opened, else (neither sent) the key's oldest open reservation for that model
 *   that has no `request_id`; settled at the real cost, the rest released;
 * - one update per row touched: daily and hourly rollups (per payer, organization, key and
 *   model, and for the whole platform per model), the payer's debit (free credit first,
 *   then paid, possibly negative), the payer's, key's and organization's month spend, the key's
 *   lifetime spend, what the settled reservations held;
 * - each call's answer, with the payer's remaining credit just after its own charge, as if the
 *   batch's calls had run one after another in `pos` order; stored for replays;
 * - a NOTIFY per payer, key and organization charged, so every instance drops their standing.
 *
 * $1: the calls (JSON array of {@link UsageCallRow}); $2: the invalidation channel.
 * Answers one row per call whose model exists: `body` null when its request_id was claimed before.
 */
export const RECORD_USAGE_SQL = `
WITH calls AS (
  SELECT c.*, decode(c.request_hash, 'hex') AS hash, md.unique_name AS model_name,
    md.price_million_input, md.price_million_output,
    cost.input AS input_cost, cost.output AS output_cost, cost.input + cost.output AS total_cost
  FROM jsonb_to_recordset($1::jsonb) AS c(${CALL_COLUMNS})
  JOIN models md ON md.id = c.model_id
  CROSS JOIN LATERAL (
    SELECT ${tokenCost('c.input_tokens', 'md.price_million_input')} AS input,
           ${tokenCost('c.output_tokens', 'md.price_million_output')} AS output
  ) cost
),
claim AS (
  INSERT INTO usage_requests (api_key_id, request_id, request_hash, usage_event_id)
  SELECT api_key_id, request_id, hash, id FROM calls WHERE request_id IS NOT NULL
  ORDER BY api_key_id, request_id
  ON CONFLICT (api_key_id, request_id) DO NOTHING
  RETURNING usage_event_id
),
recorded AS (
  SELECT * FROM calls
  WHERE request_id IS NULL OR id IN (SELECT usage_event_id FROM claim)
),
events AS (
  INSERT INTO usage_events (
    id, api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id, model,
    input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
    client_input_cost, client_output_cost, client_total_cost,
    price_million_input, price_million_output, input_cost, output_cost, total_cost,
    messages, messages_bytes, request_id, request_hash)
  SELECT id, api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id,
    model_name, input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
    client_input_cost, client_output_cost, client_total_cost,
    price_million_input, price_million_output, input_cost, output_cost, total_cost,
    messages::jsonb, messages_bytes, request_id, hash
  FROM recorded ORDER BY pos
),
${Object.entries(ROLLUPS)
  .map(([name, rollup]) => `${name} AS (${rollupSql(rollup)}),`)
  .join('\n')}
named AS (
  -- Reservations a call names, by reservation_id or by the request_id auth opened it with
  -- (each probe one index lookup: the id's own, fenced by OFFSET 0 so that the open-expiry
  -- index is never scanned beside it); one named twice in the batch is settled by its first.
  SELECT DISTINCT ON (r.id) r.id, r.payer_user_id, c.pos
  FROM recorded c
  CROSS JOIN LATERAL (
    SELECT r.id, r.payer_user_id
    FROM (SELECT id, payer_user_id, api_key_id, settled_at FROM reservations
          WHERE c.reservation_id IS NOT NULL AND id = c.reservation_id OFFSET 0) r
    WHERE r.api_key_id = c.api_key_id AND r.settled_at IS NULL
    UNION ALL
    SELECT r.id, r.payer_user_id FROM reservations r
    WHERE c.reservation_id IS NULL AND c.request_id IS NOT NULL
      AND r.api_key_id = c.api_key_id AND r.request_id = c.request_id AND r.settled_at IS NULL
  ) r
  ORDER BY r.id, c.pos
),
unnamed AS (
  -- Calls that name no reservation: the n-th of a key and model takes its n-th oldest.
  SELECT c.pos, c.api_key_id, c.model_id,
    row_number() OVER (PARTITION BY c.api_key_id, c.model_id ORDER BY c.pos) AS n
  FROM recorded c
  WHERE c.reservation_id IS NULL AND NOT EXISTS (SELECT 1 FROM named WHERE named.pos = c.pos)
),
oldest AS (
  -- Per key and model, only as many of its oldest open reservations as it has such calls.
  SELECT u.pos, o.id, o.payer_user_id
  FROM (SELECT api_key_id, model_id, count(*) AS m FROM unnamed GROUP BY 1, 2) g
  CROSS JOIN LATERAL (
    SELECT r.id, r.payer_user_id, row_number() OVER (ORDER BY r.created_at, r.id) AS n
    FROM (
      SELECT r.id, r.payer_user_id, r.created_at FROM reservations r
      WHERE r.api_key_id = g.api_key_id AND r.model_id = g.model_id
        AND r.settled_at IS NULL AND r.request_id IS NULL
        AND r.id NOT IN (SELECT id FROM named)
      ORDER BY r.created_at, r.id
      LIMIT g.m
    ) r
  ) o
  JOIN unnamed u ON u.api_key_id = g.api_key_id AND u.model_id = g.model_id AND u.n = o.n
),
settled AS (
  UPDATE reservations r SET settled_at = now(), settled_cost = c.total_cost
  FROM (SELECT id, payer_user_id, pos FROM named
        UNION ALL SELECT id, payer_user_id, pos FROM oldest) t
  JOIN recorded c ON c.pos = t.pos
  -- The whole primary key, so the planner probes it for one row.
  WHERE r.id = t.id AND r.payer_user_id = t.payer_user_id AND r.settled_at IS NULL
  RETURNING t.pos, r.api_key_id, r.payer_user_id, r.organization_id, r.amount
),
moves AS (
  -- What each call changes, per payer, in batch order: its charge, and what it released.
  SELECT payer, pos, sum(spent) AS spent, sum(released) AS released, sum(requests) AS requests
  FROM (
    SELECT payer_user_id AS payer, pos, total_cost AS spent, 0 AS released, 1 AS requests FROM recorded
    UNION ALL
    SELECT payer_user_id, pos, 0, amount, 0 FROM settled
  ) m
  GROUP BY payer, pos
),
payer_totals AS (
  SELECT payer, sum(spent) AS spent, sum(released) AS released, sum(requests) AS requests
  FROM moves GROUP BY payer
),
b AS (
  -- Each payer's standing before the batch (rows locked: nobody else changes them meanwhile).
  SELECT u.id, u.credit_plan, u.credit_limit, c.paid, c.free, c.free_expires_at, c.reserved,
    COALESCE(ms.amount, 0) AS month_spend
  FROM users u JOIN user_credits c ON c.user_id = u.id
  LEFT JOIN monthly_spend ms ON ms.user_id = u.id AND ms.month = ${UTC_MONTH}
  WHERE u.id IN (SELECT payer FROM payer_totals)
),
running AS (
  SELECT m.payer, m.pos,
    ${payerRemaining({
      plan: 'b.credit_plan',
      available: `${before.available} - sum(m.spent) OVER w`,
      creditLimit: 'b.credit_limit',
      monthSpend: 'b.month_spend + sum(m.spent) OVER w',
      reserved: 'b.reserved - sum(m.released) OVER w',
    })} AS remaining
  FROM moves m JOIN b ON b.id = m.payer
  WINDOW w AS (PARTITION BY m.payer ORDER BY m.pos)
),
debit AS (
  UPDATE user_credits c SET
    free = ${prepaidDebit({ paid: 'c.paid', free: 'c.free', freeExpiresAt: 'c.free_expires_at' }, before.plan, 't.spent').free},
    paid = ${prepaidDebit({ paid: 'c.paid', free: 'c.free', freeExpiresAt: 'c.free_expires_at' }, before.plan, 't.spent').paid},
    reserved = c.reserved - t.released,
    updated_at = now()
  FROM payer_totals t JOIN b ON b.id = t.payer
  WHERE c.user_id = t.payer
),
payer_month AS (
  INSERT INTO monthly_spend AS ms (user_id, month, amount, requests)
  SELECT payer, ${UTC_MONTH}, spent, requests FROM payer_totals WHERE requests > 0 ORDER BY payer
  ON CONFLICT (user_id, month)
  DO UPDATE SET amount = ms.amount + EXCLUDED.amount, requests = ms.requests + EXCLUDED.requests
),
key_totals AS (
  SELECT api_key_id, sum(spent) AS spent, sum(released) AS released
  FROM (
    SELECT api_key_id, total_cost AS spent, 0 AS released FROM recorded
    UNION ALL
    SELECT api_key_id, 0, amount FROM settled
  ) k
  GROUP BY api_key_id
),
key_spend AS (
  UPDATE api_keys k SET spent_dollar = k.spent_dollar + t.spent, reserved = k.reserved - t.released
  FROM key_totals t WHERE k.id = t.api_key_id
),
key_month AS (
  INSERT INTO api_key_monthly_spend AS ks (api_key_id, month, amount)
  SELECT api_key_id, ${UTC_MONTH}, sum(total_cost) FROM recorded GROUP BY api_key_id ORDER BY api_key_id
  ON CONFLICT (api_key_id, month) DO UPDATE SET amount = ks.amount + EXCLUDED.amount
),
organization_month AS (
  -- The organization's month is its own calendar month, in its time zone.
  INSERT INTO organization_monthly_spend AS os (organization_id, month, amount)
  SELECT o.id, ${organizationMonth('o.time_zone')}, sum(c.total_cost)
  FROM recorded c JOIN organizations o ON o.id = c.organization_id
  GROUP BY o.id ORDER BY o.id
  ON CONFLICT (organization_id, month) DO UPDATE SET amount = os.amount + EXCLUDED.amount
),
organization_release AS (
  UPDATE organizations o SET reserved = o.reserved - s.amount
  FROM (SELECT organization_id, sum(amount) AS amount FROM settled
        WHERE organization_id IS NOT NULL GROUP BY 1) s
  WHERE o.id = s.organization_id
),
answers AS (
  SELECT c.pos, c.id, c.request_id, format(
    '{"status":201,"message":"Success","id":"%s",'
    '"cost":{"input":%s,"output":%s,"total":%s,"client_total":%s,"mismatch":%s},'
    '"credit":{"plan":"%s","remaining":%s}}',
    c.id,
    trim_scale(c.input_cost),
    trim_scale(c.output_cost),
    trim_scale(c.total_cost),
    COALESCE(trim_scale(c.client_total_cost)::text, 'null'),
    CASE WHEN c.client_total_cost <> c.total_cost THEN 'true' ELSE 'false' END,
    b.credit_plan,
    COALESCE(trim_scale(r.remaining)::text, 'null')
  ) AS body
  FROM recorded c
  JOIN b ON b.id = c.payer_user_id
  JOIN running r ON r.payer = c.payer_user_id AND r.pos = c.pos
),
replays AS (
  INSERT INTO usage_replays (usage_event_id, response)
  SELECT id, body FROM answers WHERE request_id IS NOT NULL
),
notified AS (
  SELECT count(pg_notify($2, invalidation)) AS n
  FROM (
    SELECT DISTINCT ${standingInvalidationSql('payer', 'payer')} AS invalidation FROM moves
    UNION SELECT ${standingInvalidationSql('key', 'api_key_id')} FROM key_totals
    UNION SELECT ${standingInvalidationSql('organization', 'organization_id')} FROM recorded
      WHERE organization_id IS NOT NULL
    UNION SELECT ${standingInvalidationSql('organization', 'organization_id')} FROM settled
      WHERE organization_id IS NOT NULL
  ) i
)
SELECT c.pos, a.body, (SELECT n FROM notified) AS notified
FROM calls c LEFT JOIN answers a ON a.pos = c.pos`;
