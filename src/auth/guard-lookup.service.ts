import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { preparedQuery } from '../database/prepared-query.js';
import {
  keyStandingQuery,
  organizationStandingQuery,
  payerStandingQuery,
} from '../ledger/ledger-sql.js';
import type { LimitsMode } from '../limits/limits-mode.js';
import type { CreditPlan } from '../users/user.entity.js';
import { EMPTY_ROW, type GuardLookupRow } from './guard-checks.js';

export interface GuardLookupParams {
  /** The SecretKey's digest, hex ({@link hashSecretHex}). */
  secretHash: string;
  /** The API key's digest, hex; null when the key is malformed: nothing to look up. */
  apiKeyHash: string | null;
  /** Null when absent or not a UUID. */
  organizationPublicId: string | null;
  model: string | null;
  /** Whether the payer's credit and the key's spend are needed (auth, not log-usage). */
  standing: boolean;
}

// A key or secret hash opens its key or client while the hash is current or within its grace.
const SECRET_SQL = `
  SELECT c.id, (extract(epoch FROM s.valid_until) * 1000)::float8 AS changes_at
  FROM service_client_secrets s JOIN service_clients c ON c.id = s.service_client_id
  WHERE s.secret_hash = $1 AND c.revoked_at IS NULL AND (s.valid_until IS NULL OR s.valid_until > now())`;

function keySql(keyHash: string): string {
  return `
  SELECT k.id, k.user_id, k.allowed_models, k.rpm_limit, k.tpm_limit, k.concurrency_limit,
    k.limits_mode,
    (k.revoked_at IS NOT NULL AND k.revoked_at <= now())
      OR (h.valid_until IS NOT NULL AND h.valid_until <= now()) AS revoked,
    (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS expired,
    (extract(epoch FROM LEAST(CASE WHEN h.valid_until > now() THEN h.valid_until END,
                              CASE WHEN k.expires_at > now() THEN k.expires_at END)) * 1000)::float8
      AS changes_at
  FROM api_key_hashes h JOIN api_keys k ON k.id = h.api_key_id
  WHERE h.key_hash = ${keyHash}`;
}

const KEY_SQL = keySql('$1');
const PAYER_SQL = payerStandingQuery('$1');
const KEY_SPEND_SQL = keyStandingQuery('$1');
/** The month being the calendar month in the organization's time zone; and when it ends. */
const ORGANIZATION_BUDGET_SQL = organizationStandingQuery('$1');

/** Everything the check table needs, in one statement: the path when nothing is cached. */
const LOOKUP_SQL = `
SELECT
  sc.id AS service_client_id,
  k.id AS api_key_id,
  k.user_id AS api_key_user_id,
  k.revoked AS api_key_revoked,
  k.expired AS api_key_expired,
  ks.over_cap AS api_key_over_cap,
  k.allowed_models,
  k.rpm_limit,
  k.tpm_limit,
  k.concurrency_limit,
  k.limits_mode,
  o.id AS organization_id,
  o.public_id AS organization_public_id,
  o.rpm_limit AS organization_rpm_limit,
  o.tpm_limit AS organization_tpm_limit,
  o.limits_mode AS organization_limits_mode,
  (o.owner_user_id = k.user_id OR m.id IS NOT NULL) AS is_member,
  (o.owner_user_id = k.user_id OR m.role = ANY (o.spend_roles)) AS may_spend,
  md.id AS model_id,
  md.unique_name AS model_name,
  md.enabled AS model_enabled,
  COALESCE(o.owner_user_id, k.user_id) AS payer_id,
  p.credit_plan,
  p.remaining,
  p.has_credit,
  ob.under_budget AS organization_under_budget
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (${SECRET_SQL}) sc ON true
LEFT JOIN LATERAL (${keySql('$2')}) k ON sc.id IS NOT NULL
LEFT JOIN organizations o ON o.public_id = $3::uuid AND k.id IS NOT NULL
LEFT JOIN organization_members m
  ON m.organization_id = o.id AND m.user_id = k.user_id AND m.removed_at IS NULL
LEFT JOIN models md ON md.unique_name = $4 AND k.id IS NOT NULL
LEFT JOIN LATERAL (${payerStandingQuery('COALESCE(o.owner_user_id, k.user_id)')}) p ON k.id IS NOT NULL
LEFT JOIN LATERAL (${keyStandingQuery('k.id')}) ks ON k.id IS NOT NULL
LEFT JOIN LATERAL (${organizationStandingQuery('o.id')}) ob ON o.id IS NOT NULL`;

interface CachedKey {
  id: string;
  userId: string;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  concurrencyLimit: number | null;
  limitsMode: LimitsMode;
  revoked: boolean;
  expired: boolean;
}

interface CachedOrganization {
  id: string;
  publicId: string;
  ownerUserId: string;
  spendRoles: string[];
  rpmLimit: number | null;
  tpmLimit: number | null;
  limitsMode: LimitsMode;
}

interface CachedPayer {
  plan: CreditPlan;
  remaining: string | null;
  hasCredit: boolean;
}

/** A hex digest as the `bytea` the tables hold. */
function digest(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

function nextMonthStart(now = new Date()): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
}

/**
 * Resolves the guard headers: from the {@link AuthCache} when it is trusted (no Postgres round
 * trip for known keys), else with the single statement above.
 */
@Injectable()
export class GuardLookupService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cache: AuthCache,
  ) {}

  async lookup(params: GuardLookupParams): Promise<GuardLookupRow> {
    if (!this.cache.trusted) return this.lookupInPostgres(params);
    return this.lookupCached(params);
  }

  /** The service client of a secret, from the cache even when untrusted (refusals only). */
  peekServiceClient(secretHash: string): string | null | undefined {
    return this.cache.peek<string | null>('secret', secretHash);
  }

  /** Whether a key hash is cached as a key that is neither revoked nor expired. */
  peekUsableKey(apiKeyHash: string): boolean {
    const key = this.cache.peek<CachedKey | null>('key', apiKeyHash);
    return !!key && !key.revoked && !key.expired;
  }

  async lookupInPostgres(params: GuardLookupParams): Promise<GuardLookupRow> {
    const rows = await preparedQuery<GuardLookupRow>(this.dataSource, 'guard_lookup', LOOKUP_SQL, [
      digest(params.secretHash),
      params.apiKeyHash === null ? null : digest(params.apiKeyHash),
      params.organizationPublicId,
      params.model,
    ]);
    return rows[0];
  }

  private async lookupCached(params: GuardLookupParams): Promise<GuardLookupRow> {
    const row: GuardLookupRow = { ...EMPTY_ROW };
    row.service_client_id = await this.cache.get('secret', params.secretHash, async () => {
      const [found]: { id: string; changes_at: number | null }[] = await preparedQuery(
        this.dataSource,
        'guard_secret',
        SECRET_SQL,
        [digest(params.secretHash)],
      );
      return { value: found?.id ?? null, validUntil: found?.changes_at ?? Infinity };
    });
    if (!row.service_client_id || !params.apiKeyHash) return row;

    const apiKeyHash = params.apiKeyHash;
    const key = await this.cache.get('key', apiKeyHash, async () => {
      const [found]: (Record<string, unknown> & { changes_at: number | null })[] =
        await preparedQuery(this.dataSource, 'guard_key', KEY_SQL, [digest(apiKeyHash)]);
      const value: CachedKey | null = found
        ? {
            id: found.id as string,
            userId: found.user_id as string,
            allowedModels: found.allowed_models as string[] | null,
            rpmLimit: found.rpm_limit as number | null,
            tpmLimit: found.tpm_limit as number | null,
            concurrencyLimit: found.concurrency_limit as number | null,
            limitsMode: found.limits_mode as LimitsMode,
            revoked: found.revoked as boolean,
            expired: found.expired as boolean,
          }
        : null;
      // A grace period or an expiry ending changes the answer without any notification.
      return { value, validUntil: found?.changes_at ?? Infinity };
    });
    if (!key) return row;
    Object.assign(row, {
      api_key_id: key.id,
      api_key_user_id: key.userId,
      api_key_revoked: key.revoked,
      api_key_expired: key.expired,
      allowed_models: key.allowedModels,
      rpm_limit: key.rpmLimit,
      tpm_limit: key.tpmLimit,
      concurrency_limit: key.concurrencyLimit,
      limits_mode: key.limitsMode,
    });

    let payerId = key.userId;
    if (params.organizationPublicId) {
      const organization = await this.cache.get('org', params.organizationPublicId, async () => {
        const [found]: CachedOrganization[] = await preparedQuery(
          this.dataSource,
          'guard_organization',
          `SELECT id, public_id AS "publicId", owner_user_id AS "ownerUserId", spend_roles AS "spendRoles",
             rpm_limit AS "rpmLimit", tpm_limit AS "tpmLimit", limits_mode AS "limitsMode"
           FROM organizations WHERE public_id = $1`,
          [params.organizationPublicId],
        );
        return { value: found ?? null };
      });
      if (organization) {
        row.organization_id = organization.id;
        row.organization_public_id = organization.publicId;
        row.organization_rpm_limit = organization.rpmLimit;
        row.organization_tpm_limit = organization.tpmLimit;
        row.organization_limits_mode = organization.limitsMode;
        payerId = organization.ownerUserId;
        if (organization.ownerUserId === key.userId) {
          row.is_member = true;
          row.may_spend = true;
        } else {
          const role = await this.cache.get(
            'member',
            `${organization.id}:${key.userId}`,
            async () => {
              const [found]: { role: string }[] = await preparedQuery(
                this.dataSource,
                'guard_member',
                `SELECT role FROM organization_members
               WHERE organization_id = $1 AND user_id = $2 AND removed_at IS NULL`,
                [organization.id, key.userId],
              );
              return { value: found?.role ?? null };
            },
          );
          row.is_member = role !== null;
          row.may_spend = role !== null && organization.spendRoles.includes(role);
        }
      }
    }

    if (params.model) {
      const model = await this.cache.get('model', params.model, async () => {
        const [found]: { id: string; enabled: boolean }[] = await preparedQuery(
          this.dataSource,
          'guard_model',
          'SELECT id, enabled FROM models WHERE unique_name = $1',
          [params.model],
        );
        return { value: found ?? null };
      });
      if (model) {
        row.model_id = model.id;
        row.model_name = params.model;
        row.model_enabled = model.enabled;
      }
    }

    row.payer_id = payerId;
    if (!params.standing) return row;

    const payer = await this.cache.get('payer', payerId, async () => {
      const [found]: {
        credit_plan: CreditPlan;
        remaining: string | null;
        has_credit: boolean;
        free_expires_at: number | null;
      }[] = await preparedQuery(this.dataSource, 'guard_payer', PAYER_SQL, [payerId]);
      const value: CachedPayer = {
        plan: found.credit_plan,
        remaining: found.remaining,
        hasCredit: found.has_credit,
      };
      // Free credit expiring, or a new month of invoice spend, changes the standing by itself.
      return { value, validUntil: Math.min(found.free_expires_at ?? Infinity, nextMonthStart()) };
    });
    row.credit_plan = payer.plan;
    row.remaining = payer.remaining;
    row.has_credit = payer.hasCredit;

    row.api_key_over_cap = await this.cache.get('keyspend', key.id, async () => {
      const [found]: { over_cap: boolean }[] = await preparedQuery(
        this.dataSource,
        'guard_key_spend',
        KEY_SPEND_SQL,
        [key.id],
      );
      return { value: found?.over_cap ?? false, validUntil: nextMonthStart() };
    });
    if (row.organization_id) {
      const organizationId = row.organization_id;
      row.organization_under_budget = await this.cache.get('orgspend', organizationId, async () => {
        const [found]: { under_budget: boolean; month_ends_at: number }[] = await preparedQuery(
          this.dataSource,
          'guard_organization_budget',
          ORGANIZATION_BUDGET_SQL,
          [organizationId],
        );
        return { value: found?.under_budget ?? true, validUntil: found?.month_ends_at ?? Infinity };
      });
    }
    return row;
  }
}
