import { Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { ApiKey } from '../auth/api-key.entity.js';
import { Model } from '../models/model.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import { User } from '../users/user.entity.js';
import { UsageTotals } from './usage-totals.js';

/**
 * Usage per hour, payer, organization, key and model, kept in step with every insert,
 * so hour-bucket reports never scan raw events.
 *
 * The table has no primary key: a row is identified by the expression index
 * `usage_hourly_key_idx`, which counts "no organization" as one value. TypeORM wants primary
 * columns in an entity and would add them as a primary key, so it does not synchronise this
 * table (`synchronize: false`); the primary columns below only name that identity.
 */
@Entity({ name: 'usage_hourly', synchronize: false })
// `UNIQUE (hour, api_key_id, model_id, payer_user_id, COALESCE(organization_id, <zero uuid>))`:
// an expression index, which TypeORM cannot state; the migration owns it.
@Index('usage_hourly_key_idx', { synchronize: false })
@Index('usage_hourly_payer_idx', ['payerUserId', 'hour'])
@Index('usage_hourly_organization_idx', ['organizationId', 'hour'], {
  where: 'organization_id IS NOT NULL',
})
@Index('usage_hourly_hour_idx', ['hour'])
export class UsageHourly extends UsageTotals {
  @PrimaryColumn({ type: 'timestamptz' })
  hour: Date;

  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'usage_hourly_api_key_id_fkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  @ForeignKey(() => Model, { name: 'usage_hourly_model_id_fkey' })
  modelId: string;

  @PrimaryColumn({ name: 'payer_user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'usage_hourly_payer_user_id_fkey' })
  payerUserId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  @ForeignKey(() => Organization, { name: 'usage_hourly_organization_id_fkey' })
  organizationId: string | null;

  @Column({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'usage_hourly_user_id_fkey' })
  userId: string;
}
