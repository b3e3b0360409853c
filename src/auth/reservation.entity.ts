import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Model } from '../models/model.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import { User } from '../users/user.entity.js';
import { ApiKey } from './api-key.entity.js';

/**
 * Credit held by an authorised call until its usage is logged (settled at the real cost) or
 * it expires: against the payer, the key's cap and the organization's budget.
 */
@Entity('reservations')
@Check('reservations_amount_check', `amount >= 0`)
// One open reservation per idempotency key, so a retried auth does not reserve twice.
@Index('reservations_open_request_idx', ['apiKeyId', 'requestId'], {
  unique: true,
  where: 'settled_at IS NULL AND request_id IS NOT NULL',
})
@Index('reservations_open_expiry_idx', ['expiresAt'], { where: 'settled_at IS NULL' })
// Usage logged with neither id settles the key's oldest open reservation for its model.
@Index('reservations_open_unnamed_idx', ['apiKeyId', 'modelId', 'createdAt'], {
  where: 'settled_at IS NULL AND request_id IS NULL',
})
export class Reservation {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'reservations_api_key_id_fkey' })
  apiKeyId: string;

  /** In the primary key: the column the table would be distributed by (docs/scaling.md). */
  @PrimaryColumn({ name: 'payer_user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'reservations_payer_user_id_fkey' })
  payerUserId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  @ForeignKey(() => Organization, { name: 'reservations_organization_id_fkey' })
  organizationId: string | null;

  /** The model the call was authorised for. */
  @Column({ name: 'model_id', type: 'uuid', nullable: true })
  @ForeignKey(() => Model, { name: 'reservations_model_id_fkey' })
  modelId: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  /** The largest cost the call can have, in USD. */
  @Column({ type: 'numeric' })
  amount: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'settled_at', type: 'timestamptz', nullable: true })
  settledAt: Date | null;

  /** What the call really cost (0 when it expired unused). */
  @Column({ name: 'settled_cost', type: 'numeric', nullable: true })
  settledCost: string | null;
}
