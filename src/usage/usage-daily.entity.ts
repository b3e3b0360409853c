import { Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { ApiKey } from '../auth/api-key.entity.js';
import { Model } from '../models/model.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import { User } from '../users/user.entity.js';
import { UsageTotals } from './usage-totals.js';

/**
 * Usage per day (UTC), payer, organization, key and model, kept in step with every insert,
 * so reports and budgets never scan raw events.
 *
 * The table has no primary key: a row is identified by the expression index
 * `usage_daily_key_idx`, which counts "no organization" as one value. TypeORM wants primary
 * columns in an entity and would add them as a primary key, so it does not synchronise this
 * table (`synchronize: false`); the primary columns below only name that identity.
 */
@Entity({ name: 'usage_daily', synchronize: false })
// `UNIQUE (day, api_key_id, model_id, payer_user_id, COALESCE(organization_id, <zero uuid>))`:
// an expression index, which TypeORM cannot state; the migration owns it.
@Index('usage_daily_key_idx', { synchronize: false })
@Index('usage_daily_payer_idx', ['payerUserId', 'day'])
@Index('usage_daily_organization_idx', ['organizationId', 'day'], {
  where: 'organization_id IS NOT NULL',
})
@Index('usage_daily_day_idx', ['day'])
export class UsageDaily extends UsageTotals {
  @PrimaryColumn({ type: 'date' })
  day: string;

  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'usage_daily_api_key_id_fkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  @ForeignKey(() => Model, { name: 'usage_daily_model_id_fkey' })
  modelId: string;

  @PrimaryColumn({ name: 'payer_user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'usage_daily_payer_user_id_fkey' })
  payerUserId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  @ForeignKey(() => Organization, { name: 'usage_daily_organization_id_fkey' })
  organizationId: string | null;

  @Column({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'usage_daily_user_id_fkey' })
  userId: string;
}
