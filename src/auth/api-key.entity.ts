import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { LimitsMode } from '../limits/limits-mode.js';
import { User } from '../users/user.entity.js';

export type SpendPeriod = 'lifetime' | 'monthly';

@Entity('api_keys')
@Check('api_keys_limit_check', `limit_credit_dollar >= 0`)
@Check('api_keys_rpm_limit_check', `rpm_limit >= 1`)
@Check('api_keys_tpm_limit_check', `tpm_limit >= 1`)
@Check('api_keys_concurrency_limit_check', `concurrency_limit >= 1`)
@Check('api_keys_limits_mode_check', `limits_mode IN ('enforce', 'shadow')`)
@Check('api_keys_spend_period_check', `spend_period IN ('lifetime', 'monthly')`)
@Index('api_keys_user_idx', ['userId', 'createdAt'])
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'api_keys_user_id_fkey' })
  userId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  prefix: string;

  @Column({ type: 'text' })
  last4: string;

  /** Spend cap of this key in USD, per `spendPeriod`; null means no cap. */
  @Column({ name: 'limit_credit_dollar', type: 'numeric', nullable: true })
  limitCreditDollar: string | null;

  @Column({ name: 'spend_period', type: 'text', default: 'lifetime' })
  spendPeriod: SpendPeriod;

  /** Free-form labels of the key's owner (team, environment…). */
  @Column({ type: 'jsonb', default: {} })
  metadata: Record<string, unknown>;

  /** What this key has been charged so far, in USD. */
  @Column({ name: 'spent_dollar', type: 'numeric', default: 0 })
  spentDollar: string;

  /** Held against the key's cap by open reservations, in USD. */
  @Column({ type: 'numeric', default: 0 })
  reserved: string;

  @Column({ name: 'allowed_models', type: 'text', array: true, nullable: true })
  allowedModels: string[] | null;

  @Column({ name: 'rpm_limit', type: 'integer', nullable: true })
  rpmLimit: number | null;

  /** Tokens per minute; null means `DEFAULT_TPM_LIMIT`. */
  @Column({ name: 'tpm_limit', type: 'integer', nullable: true })
  tpmLimit: number | null;

  /** Requests in flight (auth to log-usage); null means `DEFAULT_CONCURRENCY_LIMIT`. */
  @Column({ name: 'concurrency_limit', type: 'integer', nullable: true })
  concurrencyLimit: number | null;

  /** `shadow`: limits are counted and reported but never refuse. */
  @Column({ name: 'limits_mode', type: 'text', default: 'enforce' })
  limitsMode: LimitsMode;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
