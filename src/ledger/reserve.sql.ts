import { standingInvalidationSql } from '../auth-cache/invalidation.js';
import {
  UTC_MONTH,
  fits,
  keyHeadroom,
  organizationHeadroom,
  organizationMonth,
  payerRemaining,
  prepaidAvailable,
  tokenCost,
} from './ledger-sql.js';

/** One reservation request of a batch, as the statement reads it from its JSON parameter. */
export interface ReserveCallRow {
  pos: number;
  /** The reservation's id, if granted. */
  id: string;
  api_key_id: string;
  payer_user_id: string;
  organization_id: string | null;
  model_id: string;
  input_tokens: number;
  max_tokens: number;
  request_id: string | null;
}

const CALL_COLUMNS = `pos int, id uuid, api_key_id uuid, payer_user_id uuid, organization_id uuid,
  model_id uuid, input_tokens integer, max_tokens integer, request_id text`;

/** Used so far in the batch by `entity` (a jsonb key), read from the state `used`. */
function usedSoFar(entity: string): string {
  return `COALESCE((s.used ->> (${entity}))::numeric, 0)`;
}

/**
 * Decides a batch of reservations in one statement, in the transaction that has locked their
 * payers', organizations' and keys' rows (in that order, each by id), one after another in
 * `pos` order: each holds the largest cost its call can have (prompt tokens, if known, plus
 * `max_tokens` of output, at the model's current prices) when the payer's remaining credit,
 * the organization's budget headroom and the key's cap headroom, less what the batch granted
 * before it, all cover it; else it is refused with the first check that fails, in the
 * contract's order. An open reservation already holding the request_id refuses too.
 *
 * $1: the calls (JSON array of {@link ReserveCallRow}); $2: lifetime in seconds; $3: channel.
 * Answers one row per call: `refusal` (an error code, or null when granted), the amount,
 * expiry, the payer's plan and remaining credit after the call.
 */
export const RESERVE_SQL = `
WITH RECURSIVE cand AS (
  SELECT c.*, row_number() OVER (ORDER BY c.pos) AS n, u.credit_plan,
    ${tokenCost('c.input_tokens', 'md.price_million_input')}
      + ${tokenCost('c.max_tokens', 'md.price_million_output')} AS amount,
    ${payerRemaining({
      plan: 'u.credit_plan',
      available: prepaidAvailable({
        paid: 'uc.paid',
        free: 'uc.free',
        freeExpiresAt: 'uc.free_expires_at',
      }),
      creditLimit: 'u.credit_limit',
      monthSpend: 'COALESCE(ms.amount, 0)',
      reserved: 'uc.reserved',
    })} AS payer_room,
    ${organizationHeadroom({
      budget: 'o.monthly_budget',
      monthSpend: 'COALESCE(oms.amount, 0)',
      reserved: 'o.reserved',
    })} AS organization_room,
    ${keyHeadroom({
      limit: 'k.limit_credit_dollar',
      period: 'k.spend_period',
      lifetimeSpend: 'k.spent_dollar',
      monthSpend: 'COALESCE(kms.amount, 0)',
      reserved: 'k.reserved',
    })} AS key_room,
    open.id IS NOT NULL AS duplicate
  FROM jsonb_to_recordset($1::jsonb) AS c(${CALL_COLUMNS})
  -- An open reservation with the same request_id: one index probe per call.
  LEFT JOIN LATERAL (
    SELECT r.id FROM reservations r
    WHERE r.api_key_id = c.api_key_id AND r.request_id = c.request_id AND r.settled_at IS NULL
    LIMIT 1
  ) open ON true
  JOIN models md ON md.id = c.model_id
  JOIN users u ON u.id = c.payer_user_id
  JOIN user_credits uc ON uc.user_id = u.id
  LEFT JOIN monthly_spend ms ON ms.user_id = u.id AND ms.month = ${UTC_MONTH}
  LEFT JOIN organizations o ON o.id = c.organization_id
  LEFT JOIN organization_monthly_spend oms
    ON oms.organization_id = o.id AND oms.month = ${organizationMonth('o.time_zone')}
  JOIN api_keys k ON k.id = c.api_key_id
  LEFT JOIN api_key_monthly_spend kms ON kms.api_key_id = k.id AND kms.month = ${UTC_MONTH}
),
steps (n, used, refusal, remaining) AS (
  SELECT 0::bigint, '{}'::jsonb, NULL::text, NULL::numeric
  UNION ALL
  SELECT c.n,
    CASE WHEN d.refusal IS NULL THEN s.used
      || jsonb_build_object('p' || c.payer_user_id, u.payer + c.amount, 'k' || c.api_key_id, u.key + c.amount)
      || CASE WHEN c.organization_id IS NULL THEN '{}'::jsonb
              ELSE jsonb_build_object('o' || c.organization_id, u.organization + c.amount) END
    ELSE s.used END,
    d.refusal,
    c.payer_room - u.payer - CASE WHEN d.refusal IS NULL THEN c.amount ELSE 0 END
  FROM steps s
  JOIN cand c ON c.n = s.n + 1
  CROSS JOIN LATERAL (
    SELECT ${usedSoFar(`'p' || c.payer_user_id`)} AS payer,
           ${usedSoFar(`'o' || c.organization_id`)} AS organization,
           ${usedSoFar(`'k' || c.api_key_id`)} AS key
  ) u
  CROSS JOIN LATERAL (
    SELECT CASE
      WHEN c.duplicate THEN 'reservation_request_id_open'
      WHEN NOT ${fits('c.payer_room - u.payer', 'c.amount')} THEN
        CASE WHEN c.credit_plan = 'prepaid' THEN 'insufficient_credits' ELSE 'billing_limit_exceeded' END
      WHEN NOT ${fits('c.organization_room - u.organization', 'c.amount')} THEN 'organization_budget_exceeded'
      WHEN NOT ${fits('c.key_room - u.key', 'c.amount')} THEN 'api_key_limit_exceeded'
    END AS refusal
  ) d
),
decided AS (
  SELECT c.*, s.refusal, s.remaining FROM cand c JOIN steps s ON s.n = c.n
),
granted AS (SELECT * FROM decided WHERE refusal IS NULL),
inserted AS (
  INSERT INTO reservations (id, api_key_id, payer_user_id, organization_id, model_id, request_id, amount, expires_at)
  SELECT id, api_key_id, payer_user_id, organization_id, model_id, request_id, amount,
    now() + make_interval(secs => $2)
  FROM granted ORDER BY pos
  RETURNING id, expires_at
),
payers AS (
  UPDATE user_credits c SET reserved = c.reserved + g.amount
  FROM (SELECT payer_user_id, sum(amount) AS amount FROM granted GROUP BY 1) g
  WHERE c.user_id = g.payer_user_id
),
organizations_held AS (
  UPDATE organizations o SET reserved = o.reserved + g.amount
  FROM (SELECT organization_id, sum(amount) AS amount FROM granted
        WHERE organization_id IS NOT NULL GROUP BY 1) g
  WHERE o.id = g.organization_id
),
keys_held AS (
  UPDATE api_keys k SET reserved = k.reserved + g.amount
  FROM (SELECT api_key_id, sum(amount) AS amount FROM granted GROUP BY 1) g
  WHERE k.id = g.api_key_id
),
notified AS (
  SELECT count(pg_notify($3, invalidation)) AS n
  FROM (
    SELECT ${standingInvalidationSql('payer', 'payer_user_id')} AS invalidation FROM granted
    UNION SELECT ${standingInvalidationSql('key', 'api_key_id')} FROM granted
    UNION SELECT ${standingInvalidationSql('organization', 'organization_id')} FROM granted
      WHERE organization_id IS NOT NULL
  ) i
)
SELECT d.pos, d.refusal, d.amount::text AS amount, i.expires_at, d.credit_plan,
  d.remaining::text AS remaining, (SELECT n FROM notified) AS notified
FROM decided d LEFT JOIN inserted i ON i.id = d.id`;
