import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { GuardLookupRow } from './guard-checks.js';

export interface GuardLookupParams {
  secretHash: Buffer;
  /** Null when the key is malformed: nothing to look up. */
  apiKeyHash: Buffer | null;
  /** Null when absent or not a UUID. */
  organizationPublicId: string | null;
  model: string | null;
}

/**
 * Everything the check table needs, in one statement: the service client, the key, the
 * organization and membership, the model, and the payer's credit for this calendar month.
 */
const LOOKUP_SQL = `
SELECT
  sc.id AS service_client_id,
  k.id AS api_key_id,
  k.user_id AS api_key_user_id,
  (k.revoked_at IS NOT NULL AND k.revoked_at <= now()) AS api_key_revoked,
  (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS api_key_expired,
  (k.limit_credit_dollar IS NOT NULL AND k.spent_dollar >= k.limit_credit_dollar) AS api_key_over_cap,
  k.allowed_models,
  k.rpm_limit,
  o.id AS organization_id,
  o.public_id AS organization_public_id,
  (o.owner_user_id = k.user_id OR m.id IS NOT NULL) AS is_member,
  md.id AS model_id,
  md.unique_name AS model_name,
  md.enabled AS model_enabled,
  u.id AS payer_id,
  u.credit_plan,
  credit.remaining,
  CASE WHEN u.credit_plan = 'invoice' AND u.credit_limit IS NULL THEN true
       ELSE credit.remaining > 0 END AS has_credit
FROM (SELECT 1) AS one
LEFT JOIN service_clients sc ON sc.secret_hash = $1 AND sc.revoked_at IS NULL
LEFT JOIN api_keys k ON k.key_hash = $2 AND sc.id IS NOT NULL
LEFT JOIN organizations o ON o.public_id = $3::uuid AND k.id IS NOT NULL
LEFT JOIN organization_members m
  ON m.organization_id = o.id AND m.user_id = k.user_id AND m.removed_at IS NULL
LEFT JOIN models md ON md.unique_name = $4 AND k.id IS NOT NULL
LEFT JOIN users u ON u.id = COALESCE(o.owner_user_id, k.user_id)
LEFT JOIN user_credits c ON c.user_id = u.id
LEFT JOIN monthly_spend ms
  ON ms.user_id = u.id AND ms.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
LEFT JOIN LATERAL (
  SELECT CASE WHEN u.credit_plan = 'prepaid'
    THEN COALESCE(c.paid, 0)
       + CASE WHEN c.free_expires_at IS NULL OR c.free_expires_at > now() THEN COALESCE(c.free, 0) ELSE 0 END
    ELSE u.credit_limit - COALESCE(ms.amount, 0)
  END AS remaining
) credit ON true`;

@Injectable()
export class GuardLookupService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async lookup(params: GuardLookupParams): Promise<GuardLookupRow> {
    const rows: GuardLookupRow[] = await this.dataSource.query(LOOKUP_SQL, [
      params.secretHash,
      params.apiKeyHash,
      params.organizationPublicId,
      params.model,
    ]);
    return rows[0];
  }
}
