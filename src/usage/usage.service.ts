import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { INVALIDATION_CHANNEL } from '../auth-cache/invalidation.js';
import type { GuardPrincipal } from '../auth/guard-principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { canonicalJson } from '../common/canonical-json.js';
import { hashSecret } from '../common/crypto.js';
import { Decimal, serializeJson } from '../common/decimal.js';
import { DomainError } from '../common/error-codes.js';
import type { CreditPlan } from '../users/user.entity.js';
import type { RecordUsageDto } from './dto/record-usage.dto.js';
import type { UsageResponseDto } from './dto/usage-response.dto.js';

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

const INSERT_SQL = `
INSERT INTO usage_events (
  api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id, model,
  input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
  client_input_cost, client_output_cost, client_total_cost,
  price_million_input, price_million_output, input_cost, output_cost, total_cost,
  messages, messages_bytes, request_id, request_hash)
SELECT $1, $2, $3, $4, $5, md.id, md.unique_name,
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
WHERE md.id = $6
ON CONFLICT (api_key_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
RETURNING id, input_cost::text, output_cost::text, total_cost::text, client_total_cost::text,
  (client_total_cost IS NOT NULL AND client_total_cost <> total_cost) AS mismatch`;

// Free credit that has not expired is spent first, then paid credit, which may go negative:
// usage that happened is always charged. One statement, so concurrent charges serialise on
// the payer's row and none is lost.
const CHARGE_SQL = `
WITH payer AS (
  SELECT id, credit_plan, credit_limit FROM users WHERE id = $1
),
debit AS (
  UPDATE user_credits c SET
    free = CASE WHEN c.free_expires_at IS NULL OR c.free_expires_at > now()
                THEN GREATEST(c.free - $2::numeric, 0) ELSE c.free END,
    paid = c.paid - GREATEST($2::numeric - CASE WHEN c.free_expires_at IS NULL OR c.free_expires_at > now()
                                                THEN c.free ELSE 0 END, 0),
    updated_at = now()
  FROM payer
  WHERE c.user_id = payer.id AND payer.credit_plan = 'prepaid'
  RETURNING c.paid + CASE WHEN c.free_expires_at IS NULL OR c.free_expires_at > now()
                          THEN c.free ELSE 0 END AS remaining
),
spend AS (
  INSERT INTO monthly_spend AS ms (user_id, month, amount, requests)
  VALUES ($1, date_trunc('month', now() AT TIME ZONE 'UTC')::date, $2::numeric, 1)
  ON CONFLICT (user_id, month)
  DO UPDATE SET amount = ms.amount + EXCLUDED.amount, requests = ms.requests + 1
  RETURNING amount
),
key_spend AS (
  UPDATE api_keys SET spent_dollar = spent_dollar + $2::numeric WHERE id = $3 RETURNING id
),
key_month AS (
  INSERT INTO api_key_monthly_spend AS ks (api_key_id, month, amount)
  VALUES ($3, date_trunc('month', now() AT TIME ZONE 'UTC')::date, $2::numeric)
  ON CONFLICT (api_key_id, month) DO UPDATE SET amount = ks.amount + EXCLUDED.amount
  RETURNING amount
)
SELECT payer.credit_plan,
  (CASE WHEN payer.credit_plan = 'prepaid' THEN (SELECT remaining FROM debit)
        ELSE payer.credit_limit - (SELECT amount FROM spend) END)::text AS remaining,
  -- Every instance's cached standing of this payer and key is stale from the commit on.
  pg_notify($4, 'payer:' || $1) IS NULL AS payer_notified,
  pg_notify($4, 'keyspend:' || $3) IS NULL AS key_notified
FROM payer`;

const DEADLOCK = '40P01';
const LOCK_NOT_AVAILABLE = '55P03';

interface InsertedRow {
  id: string;
  input_cost: string;
  output_cost: string;
  total_cost: string;
  client_total_cost: string | null;
  mismatch: boolean;
}

/**
 * Records usage as a ledger entry: the event row and the payer's debit commit together or
 * not at all, the cost comes from the server's own prices, and a `request_id` makes the call
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
    for (let attempt = 1; ; attempt++) {
      try {
        const recorded = await this.dataSource.transaction((manager) =>
          this.recordIn(manager, principal, dto),
        );
        if (!recorded.replayed) {
          // This instance's cached standing goes now; the others' with the NOTIFY.
          this.cache.apply(`payer:${principal.payerUserId}`);
          this.cache.apply(`keyspend:${principal.apiKeyId}`);
        }
        return recorded;
      } catch (error) {
        const code = (error as { driverError?: { code?: string } }).driverError?.code;
        if (code === DEADLOCK && attempt < 3) continue;
        if (code === LOCK_NOT_AVAILABLE) throw new DomainError('idempotency_in_flight');
        throw error;
      }
    }
  }

  private async recordIn(
    manager: EntityManager,
    principal: GuardPrincipal,
    dto: RecordUsageDto,
  ): Promise<RecordedUsage> {
    const requestId = dto.request_id ?? null;
    const requestHash = requestId === null ? null : this.requestHash(principal, dto);
    if (requestId !== null) {
      // A duplicate waits for the first request's commit, then replays it; not forever.
      await manager.query(`SET LOCAL lock_timeout = '5s'`);
    }

    const messages = this.storableMessages(dto.messages);
    const inserted: InsertedRow[] = await manager.query(INSERT_SQL, [
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
      numberText(dto.input_cost),
      numberText(dto.output_cost),
      numberText(dto.total_cost),
      messages.json,
      messages.bytes,
      requestId,
      requestHash,
    ]);

    if (inserted.length === 0) return this.replay(manager, principal, requestId, requestHash);
    const row = inserted[0];

    const [charge]: { credit_plan: CreditPlan; remaining: string | null }[] = await manager.query(
      CHARGE_SQL,
      [principal.payerUserId, row.total_cost, principal.apiKeyId, INVALIDATION_CHANNEL],
    );
    const response: UsageResponseDto = {
      status: 201,
      message: 'Success',
      id: row.id,
      cost: {
        input: new Decimal(row.input_cost),
        output: new Decimal(row.output_cost),
        total: new Decimal(row.total_cost),
        client_total: Decimal.of(row.client_total_cost),
        mismatch: row.mismatch,
      },
      credit: { plan: charge.credit_plan, remaining: Decimal.of(charge.remaining) },
    };
    const json = serializeJson(response);
    if (requestId !== null) {
      await manager.query('UPDATE usage_events SET response = $1 WHERE id = $2', [json, row.id]);
    }
    return { json, replayed: false };
  }

  private async replay(
    manager: EntityManager,
    principal: GuardPrincipal,
    requestId: string | null,
    requestHash: Buffer | null,
  ): Promise<RecordedUsage> {
    const [first]: { request_hash: Buffer; response: string }[] = await manager.query(
      'SELECT request_hash, response FROM usage_events WHERE api_key_id = $1 AND request_id = $2',
      [principal.apiKeyId, requestId],
    );
    if (!first || !requestHash) throw new Error('Usage insert conflicted without a stored request');
    if (!first.request_hash.equals(requestHash)) throw new DomainError('idempotency_key_reused');
    return { json: first.response, replayed: true };
  }

  /** Identifies "the same request": its body and the organization it is billed to. */
  private requestHash(principal: GuardPrincipal, dto: RecordUsageDto): Buffer {
    return hashSecret(
      canonicalJson({ body: { ...dto }, organization: principal.organization?.id ?? null }),
    );
  }

  private storableMessages(messages: unknown): { json: string | null; bytes: number | null } {
    if (messages === undefined) return { json: null, bytes: null };
    const json = JSON.stringify(messages);
    const bytes = Buffer.byteLength(json, 'utf8');
    return { json: bytes <= this.config.messagesMaxBytes ? json : null, bytes };
  }
}

/** A validated finite JSON number as text for a `numeric` parameter (no arithmetic on it). */
function numberText(value: number | undefined): string | null {
  return value === undefined ? null : String(value);
}
