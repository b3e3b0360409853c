import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { INVALIDATION_CHANNEL } from '../auth-cache/invalidation.js';
import { Decimal } from '../common/decimal.js';
import { DomainError } from '../common/error-codes.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { sqlState } from '../database/pg-errors.js';
import type { GuardPrincipal } from './guard-principal.js';

export interface ReservationRequest {
  maxTokens: number;
  inputTokens?: number;
  requestId?: string;
}

export interface Reservation {
  id: string;
  amount: Decimal;
  expires_at: Date;
}

const FREE_USABLE = `(c.free_expires_at IS NULL OR c.free_expires_at > now())`;
const MONTH = `date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
const SWEEP_MS = 5000;
const DEADLOCK = '40P01';

/**
 * Reservations: before a call, the largest cost it can have is held against the payer's
 * credit (or invoice limit), the key's spend cap and the organization's budget, each by one
 * conditional UPDATE in one transaction, so concurrent calls can never together hold more than
 * there is. Log-usage settles a reservation at the real cost; unsettled ones expire.
 */
@Injectable()
export class ReservationsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReservationsService.name);
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: AuthCache,
  ) {}

  onApplicationBootstrap(): void {
    // At least twice per reservation lifetime, so short lifetimes are honoured too.
    const every = Math.min(SWEEP_MS, (this.config.reservationTtlSeconds * 1000) / 2);
    this.timer = setInterval(() => void this.expire(), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async reserve(principal: GuardPrincipal, request: ReservationRequest): Promise<Reservation> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.reserveOnce(principal, request);
      } catch (error) {
        if (sqlState(error) === DEADLOCK && attempt < 3) continue;
        throw error;
      }
    }
  }

  private async reserveOnce(
    principal: GuardPrincipal,
    request: ReservationRequest,
  ): Promise<Reservation> {
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    const client = await pool.connect();
    const organizationId = principal.organization?.id ?? null;
    try {
      await client.query('BEGIN');
      const {
        rows: [price],
      } = await client.query<{ amount: string }>(
        `SELECT ($2::numeric * price_million_input + $3::numeric * price_million_output) * 0.000001 AS amount
         FROM models WHERE id = $1`,
        [principal.model.id, request.inputTokens ?? 0, request.maxTokens],
      );
      const amount = price.amount;

      const payer = await client.query<{ credit_plan: string }>(
        `UPDATE user_credits c SET reserved = c.reserved + $2::numeric
         FROM users u
         LEFT JOIN monthly_spend ms ON ms.user_id = u.id AND ms.month = ${MONTH}
         WHERE c.user_id = $1 AND u.id = c.user_id
           AND CASE WHEN u.credit_plan = 'prepaid'
                 THEN c.paid + CASE WHEN ${FREE_USABLE} THEN c.free ELSE 0 END - c.reserved >= $2::numeric
                 ELSE u.credit_limit IS NULL OR u.credit_limit - COALESCE(ms.amount, 0) - c.reserved >= $2::numeric
               END
         RETURNING u.credit_plan`,
        [principal.payerUserId, amount],
      );
      if (payer.rowCount === 0) {
        throw new DomainError(
          principal.credit?.plan === 'invoice' ? 'billing_limit_exceeded' : 'insufficient_credits',
        );
      }

      if (organizationId) {
        const organization = await client.query(
          `UPDATE organizations o SET reserved = o.reserved + $2::numeric
           WHERE o.id = $1 AND (o.monthly_budget IS NULL OR o.monthly_budget - o.reserved - COALESCE((
             SELECT amount FROM organization_monthly_spend
             WHERE organization_id = o.id AND month = guard_month_in(o.time_zone, now())), 0)
             >= $2::numeric)`,
          [organizationId, amount],
        );
        if (organization.rowCount === 0) throw new DomainError('organization_budget_exceeded');
      }

      const key = await client.query(
        `UPDATE api_keys k SET reserved = k.reserved + $2::numeric
         WHERE k.id = $1 AND (k.limit_credit_dollar IS NULL OR k.limit_credit_dollar - k.reserved - CASE
           WHEN k.spend_period = 'monthly' THEN COALESCE((
             SELECT amount FROM api_key_monthly_spend WHERE api_key_id = k.id AND month = ${MONTH}), 0)
           ELSE k.spent_dollar END >= $2::numeric)`,
        [principal.apiKeyId, amount],
      );
      if (key.rowCount === 0) throw new DomainError('api_key_limit_exceeded');

      const inserted = await client.query<{ id: string; amount: string; expires_at: Date }>(
        `INSERT INTO reservations (api_key_id, payer_user_id, organization_id, request_id, amount, expires_at)
         VALUES ($1, $2, $3, $4, $5::numeric, now() + make_interval(secs => $6))
         ON CONFLICT (api_key_id, request_id) WHERE settled_at IS NULL AND request_id IS NOT NULL DO NOTHING
         RETURNING id, amount::text, expires_at`,
        [
          principal.apiKeyId,
          principal.payerUserId,
          organizationId,
          request.requestId ?? null,
          amount,
          this.config.reservationTtlSeconds,
        ],
      );
      if (inserted.rowCount === 0) {
        throw new DomainError('conflict', 'An open reservation already has this request_id');
      }
      await client.query(`SELECT pg_notify($1, $2), pg_notify($1, $3)`, [
        INVALIDATION_CHANNEL,
        `payer:${principal.payerUserId}`,
        `keyspend:${principal.apiKeyId}`,
      ]);
      if (organizationId)
        await client.query(`SELECT pg_notify($1, $2)`, [
          INVALIDATION_CHANNEL,
          `orgspend:${organizationId}`,
        ]);
      await client.query('COMMIT');
      this.forget(principal.payerUserId, principal.apiKeyId, organizationId);
      const row = inserted.rows[0];
      return { id: row.id, amount: new Decimal(row.amount), expires_at: row.expires_at };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Releases what expired reservations still hold. */
  async expire(): Promise<number> {
    try {
      const rows: { expired: number }[] = await this.dataSource.query(
        `WITH expired AS (
           UPDATE reservations SET settled_at = now(), settled_cost = 0
           WHERE settled_at IS NULL AND expires_at <= now()
           RETURNING api_key_id, payer_user_id, organization_id, amount
         ), payers AS (
           UPDATE user_credits c SET reserved = c.reserved - e.amount
           FROM (SELECT payer_user_id, sum(amount) AS amount FROM expired GROUP BY 1) e
           WHERE c.user_id = e.payer_user_id RETURNING c.user_id
         ), keys AS (
           UPDATE api_keys k SET reserved = k.reserved - e.amount
           FROM (SELECT api_key_id, sum(amount) AS amount FROM expired GROUP BY 1) e
           WHERE k.id = e.api_key_id RETURNING k.id
         ), organizations AS (
           UPDATE organizations o SET reserved = o.reserved - e.amount
           FROM (SELECT organization_id, sum(amount) AS amount FROM expired WHERE organization_id IS NOT NULL GROUP BY 1) e
           WHERE o.id = e.organization_id RETURNING o.id
         )
         SELECT (SELECT count(*) FROM expired)::int AS expired,
           (SELECT count(pg_notify($1, 'payer:' || user_id)) FROM payers) AS payers,
           (SELECT count(pg_notify($1, 'keyspend:' || id)) FROM keys) AS keys,
           (SELECT count(pg_notify($1, 'orgspend:' || id)) FROM organizations) AS organizations`,
        [INVALIDATION_CHANNEL],
      );
      return rows[0]?.expired ?? 0;
    } catch (error) {
      this.logger.warn(
        `Expired reservations not released: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 0;
    }
  }

  private forget(payerId: string, apiKeyId: string, organizationId: string | null): void {
    this.cache.apply(`payer:${payerId}`);
    this.cache.apply(`keyspend:${apiKeyId}`);
    if (organizationId) this.cache.apply(`orgspend:${organizationId}`);
  }
}
