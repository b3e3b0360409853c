import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { INVALIDATION_CHANNEL } from '../auth-cache/invalidation.js';
import type { GuardPrincipal } from '../auth/guard-principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { canonicalJson } from '../common/canonical-json.js';
import { hashSecret } from '../common/crypto.js';
import { numericParam } from '../common/decimal.js';
import { DomainError } from '../common/error-codes.js';
import { sqlState } from '../database/pg-errors.js';
import { preparedQuery } from '../database/prepared-query.js';
import type { RecordUsageDto } from './dto/record-usage.dto.js';

export interface RecordedUsage {
  /** The answer as JSON text: built now, or the first answer on a replay. */
  json: string;
  replayed: boolean;
}

/**
 * The cost of `tokens` at `pricePerMillion`, as a SQL expression: exact `numeric` arithmetic
 * (multiplying by 0.000001 never rounds, where dividing by 1e6 could).
 */
export function tokenCostSql(tokens: string, pricePerMillion: string): string {
  return `${tokens}::numeric * ${pricePerMillion} * 0.000001`;
}

/**
 * Adds the event just inserted (`ins`) to its row of a rollup: one row per period, key, model,
 * payer and organization ("none" counting as one organization).
 */
function rollupSql(
  table: 'usage_daily' | 'usage_hourly',
  period: 'day' | 'hour',
  periodValue: string,
): string {
  return `
  INSERT INTO ${table} AS r (${period}, api_key_id, user_id, payer_user_id, organization_id, model_id,
    requests, input_tokens, output_tokens, cost)
  SELECT ${periodValue}, ins.api_key_id, ins.user_id, ins.payer_user_id,
    ins.organization_id, ins.model_id, 1, ins.input_tokens, ins.output_tokens, ins.total_cost
  FROM ins
  ON CONFLICT (${period}, api_key_id, model_id, payer_user_id,
    COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid))
  DO UPDATE SET requests = r.requests + 1,
    input_tokens = r.input_tokens + EXCLUDED.input_tokens,
    output_tokens = r.output_tokens + EXCLUDED.output_tokens,
    cost = r.cost + EXCLUDED.cost
  RETURNING 1`;
}

/**
 * Adds the event just inserted (`ins`) to the platform rollups: one row per period and model,
 * for reports over the whole platform.
 */
function platformRollupSql(
  table: 'usage_daily_platform' | 'usage_hourly_platform',
  period: 'day' | 'hour',
  periodValue: string,
): string {
  return `
  INSERT INTO ${table} AS r (${period}, model_id, requests, input_tokens, output_tokens, cost)
  SELECT ${periodValue}, ins.model_id, 1, ins.input_tokens, ins.output_tokens, ins.total_cost
  FROM ins
  ON CONFLICT (${period}, model_id)
  DO UPDATE SET requests = r.requests + 1,
    input_tokens = r.input_tokens + EXCLUDED.input_tokens,
    output_tokens = r.output_tokens + EXCLUDED.output_tokens,
    cost = r.cost + EXCLUDED.cost
  RETURNING 1`;
}

const MONTH = `date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
const FREE_USABLE = `(c.free_expires_at IS NULL OR c.free_expires_at > now())`;

/**
 * One statement records the usage and charges for it, so it is atomic and durable on
 * acknowledge, and costs one round trip:
 * - the claim of its `request_id` for this key, if it has one: when the id was used before, the
 *   claim waits for that call's commit and nothing below happens;
 * - the event, priced from the model's current prices (exact numeric), in its month's partition,
 *   and the day's and the hour's rollups for its payer, organization, key and model, and for
 *   the whole platform per model;
 * - the payer's debit: unexpired free credit first, then paid credit, which may go negative
 *   (usage that happened is always charged); concurrent charges serialise on the payer's row;
 * - the payer's and the key's spend for the calendar month (UTC), and the key's lifetime spend;
 * - the answer, written here with every digit of the numerics, so that a replay returns the
 *   very same text;
 * - a NOTIFY, so every instance drops its cached standing of this payer and key at commit.
 */
const RECORD_SQL = `
WITH claim AS (
  INSERT INTO usage_requests (api_key_id, request_id, request_hash, usage_event_id)
  SELECT $1, $19, $20, $22 WHERE $19::text IS NOT NULL
  ON CONFLICT (api_key_id, request_id) DO NOTHING
  RETURNING usage_event_id
),
ins AS (
  INSERT INTO usage_events (
    id, api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id, model,
    input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
    client_input_cost, client_output_cost, client_total_cost,
    price_million_input, price_million_output, input_cost, output_cost, total_cost,
    messages, messages_bytes, request_id, request_hash)
  SELECT $22, $1, $2, $3, $4, $5, md.id, md.unique_name,
    $7, $8, $9, $10, $11, $12, $13,
    $14::numeric, $15::numeric, $16::numeric,
    md.price_million_input, md.price_million_output,
    cost.input, cost.output, cost.input + cost.output,
    $17::jsonb, $18, $19, $20
  FROM models md
  CROSS JOIN LATERAL (
    SELECT ${tokenCostSql('$7', 'md.price_million_input')} AS input,
           ${tokenCostSql('$8', 'md.price_million_output')} AS output
  ) cost
  -- A request_id already claimed (by a committed first call: the claim waited for it) records nothing.
  WHERE md.id = $6 AND ($19::text IS NULL OR EXISTS (SELECT 1 FROM claim))
  RETURNING id, api_key_id, user_id, payer_user_id, organization_id, model_id,
    input_tokens, output_tokens, input_cost, output_cost, total_cost, client_total_cost
),
daily AS (${rollupSql('usage_daily', 'day', "(now() AT TIME ZONE 'UTC')::date")}),
hourly AS (${rollupSql('usage_hourly', 'hour', "date_trunc('hour', now())")}),
platform_daily AS (${platformRollupSql('usage_daily_platform', 'day', "(now() AT TIME ZONE 'UTC')::date")}),
platform_hourly AS (${platformRollupSql('usage_hourly_platform', 'hour', "date_trunc('hour', now())")}),
settled AS (
  -- The call's reservation, if auth made one: settled at the real cost, the rest released.
  UPDATE reservations r SET settled_at = now(), settled_cost = ins.total_cost
  FROM ins
  WHERE r.api_key_id = $1 AND r.settled_at IS NULL
    AND (r.id = $23::uuid OR ($19::text IS NOT NULL AND r.request_id = $19))
  RETURNING r.amount, r.payer_user_id, r.organization_id
),
payer AS (
  SELECT u.id, u.credit_plan, u.credit_limit, ins.total_cost
  FROM users u JOIN ins ON u.id = ins.payer_user_id
),
debit AS (
  UPDATE user_credits c SET
    free = CASE WHEN payer.credit_plan = 'prepaid' AND ${FREE_USABLE}
                THEN GREATEST(c.free - payer.total_cost, 0) ELSE c.free END,
    paid = CASE WHEN payer.credit_plan = 'prepaid'
                THEN c.paid - GREATEST(payer.total_cost - CASE WHEN ${FREE_USABLE} THEN c.free ELSE 0 END, 0)
                ELSE c.paid END,
    reserved = c.reserved - COALESCE((SELECT sum(amount) FROM settled WHERE settled.payer_user_id = c.user_id), 0),
    updated_at = now()
  FROM payer
  WHERE c.user_id = payer.id
  RETURNING c.paid + CASE WHEN ${FREE_USABLE} THEN c.free ELSE 0 END - c.reserved AS remaining, c.reserved
),
released_elsewhere AS (
  -- A reservation made for another payer (another organization header): released there.
  UPDATE user_credits c SET reserved = c.reserved - s.amount
  FROM (SELECT payer_user_id, sum(amount) AS amount FROM settled WHERE payer_user_id <> $3 GROUP BY 1) s
  WHERE c.user_id = s.payer_user_id
  RETURNING c.user_id
),
spend AS (
  INSERT INTO monthly_spend AS ms (user_id, month, amount, requests)
  SELECT payer.id, ${MONTH}, payer.total_cost, 1 FROM payer
  ON CONFLICT (user_id, month)
  DO UPDATE SET amount = ms.amount + EXCLUDED.amount, requests = ms.requests + 1
  RETURNING amount
),
key_spend AS (
  UPDATE api_keys k SET spent_dollar = k.spent_dollar + ins.total_cost,
    reserved = k.reserved - COALESCE((SELECT sum(amount) FROM settled), 0)
  FROM ins WHERE k.id = $1
  RETURNING k.id
),
key_month AS (
  INSERT INTO api_key_monthly_spend AS ks (api_key_id, month, amount)
  SELECT $1, ${MONTH}, ins.total_cost FROM ins
  ON CONFLICT (api_key_id, month) DO UPDATE SET amount = ks.amount + EXCLUDED.amount
  RETURNING amount
),
organization_month AS (
  -- The organization's month is its own calendar month, in its time zone.
  INSERT INTO organization_monthly_spend AS os (organization_id, month, amount)
  SELECT o.id, guard_month_in(o.time_zone, now()), ins.total_cost
  FROM ins JOIN organizations o ON o.id = ins.organization_id
  ON CONFLICT (organization_id, month) DO UPDATE SET amount = os.amount + EXCLUDED.amount
  RETURNING organization_id
),
organization_release AS (
  UPDATE organizations o SET reserved = o.reserved - s.amount
  FROM (SELECT organization_id, sum(amount) AS amount FROM settled
        WHERE organization_id IS NOT NULL GROUP BY 1) s
  WHERE o.id = s.organization_id
  RETURNING o.id
),
answer AS (
  SELECT ins.id, ins.organization_id, format(
    '{"status":201,"message":"Success","id":"%s",'
    '"cost":{"input":%s,"output":%s,"total":%s,"client_total":%s,"mismatch":%s},'
    '"credit":{"plan":"%s","remaining":%s}}',
    ins.id,
    trim_scale(ins.input_cost),
    trim_scale(ins.output_cost),
    trim_scale(ins.total_cost),
    COALESCE(trim_scale(ins.client_total_cost)::text, 'null'),
    CASE WHEN ins.client_total_cost <> ins.total_cost THEN 'true' ELSE 'false' END,
    payer.credit_plan,
    COALESCE(trim_scale(CASE WHEN payer.credit_plan = 'prepaid' THEN (SELECT remaining FROM debit)
                             ELSE payer.credit_limit - (SELECT amount FROM spend) - (SELECT reserved FROM debit)
                        END)::text, 'null')
  ) AS body
  FROM ins JOIN payer ON true
),
replay AS (
  INSERT INTO usage_replays (usage_event_id, response)
  SELECT answer.id, answer.body FROM answer WHERE $19::text IS NOT NULL
)
SELECT answer.body,
  pg_notify($21, 'payer:' || $3) IS NULL AS payer_notified,
  pg_notify($21, 'keyspend:' || $1) IS NULL AS key_notified,
  (SELECT count(pg_notify($21, 'orgspend:' || o)) FROM
     (SELECT answer.organization_id AS o WHERE answer.organization_id IS NOT NULL
      UNION SELECT organization_id FROM settled WHERE organization_id IS NOT NULL) os) AS organizations_notified,
  (SELECT count(pg_notify($21, 'payer:' || user_id)) FROM released_elsewhere) AS payers_notified
FROM answer`;

const REPLAY_SQL = `
SELECT q.request_hash, r.response
FROM usage_requests q JOIN usage_replays r ON r.usage_event_id = q.usage_event_id
WHERE q.api_key_id = $1 AND q.request_id = $2`;

const DEADLOCK = '40P01';
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Records usage as a ledger entry: the event and the payer's debit commit together or not at
 * all, the cost comes from the server's own prices, and a `request_id` makes the call
 * idempotent per API key.
 */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: AuthCache,
  ) {}

  async record(principal: GuardPrincipal, dto: RecordUsageDto): Promise<RecordedUsage> {
    const requestId = dto.request_id ?? null;
    const requestHash = requestId === null ? null : this.requestHash(principal, dto);
    const messages = this.storableMessages(dto.messages);
    const params = [
      principal.apiKeyId,
      principal.userId,
      principal.payerUserId,
      principal.organization?.id ?? null,
      principal.serviceClientId,
      principal.model.id,
      dto.input_tokens,
      dto.output_tokens,
      dto.max_tokens ?? null,
      dto.temperature ?? null,
      dto.top_p ?? null,
      dto.echo ?? null,
      dto.stream ?? null,
      numericParam(dto.input_cost),
      numericParam(dto.output_cost),
      numericParam(dto.total_cost),
      messages.json,
      messages.bytes,
      requestId,
      requestHash,
      INVALIDATION_CHANNEL,
      randomUUID(),
      dto.reservation_id ?? null,
    ];

    const [recorded] = await this.withRetry(requestId !== null, () =>
      preparedQuery<{ body: string }>(this.dataSource, 'record_usage', RECORD_SQL, params),
    );
    if (recorded) {
      // This instance's cached standing goes now; the others' with the NOTIFY.
      this.cache.apply(`payer:${principal.payerUserId}`);
      this.cache.apply(`keyspend:${principal.apiKeyId}`);
      if (principal.organization) this.cache.apply(`orgspend:${principal.organization.id}`);
      return { json: recorded.body, replayed: false };
    }
    // The request_id was used before: its first call has committed (the insert waited for it).
    const [first] = await preparedQuery<{ request_hash: Buffer; response: string }>(
      this.dataSource,
      'usage_replay',
      REPLAY_SQL,
      [principal.apiKeyId, requestId],
    );
    if (!first || !requestHash) throw new Error('Usage insert conflicted without a stored request');
    if (!first.request_hash.equals(requestHash)) throw new DomainError('idempotency_key_reused');
    return { json: first.response, replayed: true };
  }

  /** Retries deadlocks (the statement rolled back whole); a long lock wait is a busy duplicate. */
  private async withRetry<T>(idempotent: boolean, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        const code = sqlState(error);
        if (code === DEADLOCK && attempt < 3) continue;
        if (code === LOCK_NOT_AVAILABLE && idempotent)
          throw new DomainError('idempotency_in_flight');
        throw error;
      }
    }
  }

  /** Identifies "the same request": its body and the organization it is billed to. */
  private requestHash(principal: GuardPrincipal, dto: RecordUsageDto): Buffer {
    return hashSecret(
      canonicalJson({ body: { ...dto }, organization: principal.organization?.id ?? null }),
    );
  }

  /** `messages` as stored under MESSAGE_STORAGE, and their size as sent. */
  private storableMessages(messages: unknown): { json: string | null; bytes: number | null } {
    if (messages === undefined) return { json: null, bytes: null };
    const json = JSON.stringify(messages);
    const bytes = Buffer.byteLength(json, 'utf8');
    const cap = this.config.messagesMaxBytes;
    switch (this.config.messageStorage) {
      case 'none':
        return { json: null, bytes };
      case 'full':
        return { json: bytes <= cap ? json : null, bytes };
      case 'truncate':
        return {
          json: bytes <= cap ? json : JSON.stringify(truncatedMessages(json, bytes, cap)),
          bytes,
        };
    }
  }
}

/**
 * What `truncate` keeps of messages over the cap: the start of their JSON text, cut on a
 * character boundary, in an object whose own JSON stays within the cap.
 */
export function truncatedMessages(json: string, bytes: number, cap: number): object {
  const frame = { truncated: true, bytes, prefix: '' };
  const room = Math.max(0, cap - Buffer.byteLength(JSON.stringify(frame)));
  let prefix = '';
  let used = 0;
  for (const char of json) {
    // JSON escaping can grow a character; count it as it will be written.
    const size = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (used + size > room) break;
    prefix += char;
    used += size;
  }
  return { ...frame, prefix };
}
