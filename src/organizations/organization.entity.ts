import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Generated,
  Index,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import type { LimitsMode } from '../limits/limits-mode.js';
import { User } from '../users/user.entity.js';
import type { MemberRole } from './organization-member.entity.js';

@Entity('organizations')
@Unique('organizations_public_id_key', ['publicId'])
@Check('organizations_spend_roles_check', `spend_roles <@ ARRAY['manager', 'reader']::text[]`)
@Check('organizations_monthly_budget_check', `monthly_budget >= 0`)
@Check('organizations_rpm_limit_check', `rpm_limit >= 1`)
@Check('organizations_tpm_limit_check', `tpm_limit >= 1`)
@Check('organizations_limits_mode_check', `limits_mode IN ('enforce', 'shadow')`)
@Index('organizations_owner_idx', ['ownerUserId'])
export class Organization {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The id callers send in `Swarms-Organization`. */
  @Column({ name: 'public_id', type: 'uuid' })
  @Generated('uuid')
  publicId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'owner_user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'organizations_owner_user_id_fkey' })
  ownerUserId: string;

  /** Member roles that may bill usage to the organization; its owner always may. */
  @Column({ name: 'spend_roles', type: 'text', array: true, default: ['manager', 'reader'] })
  spendRoles: MemberRole[];

  /** USD per calendar month in `timeZone`; null means no budget. */
  @Column({ name: 'monthly_budget', type: 'numeric', nullable: true })
  monthlyBudget: string | null;

  /** IANA zone whose calendar months the budget follows. */
  @Column({ name: 'time_zone', type: 'text', default: 'UTC' })
  timeZone: string;

  /** Requests per minute of all calls billed here; null means `DEFAULT_ORG_RPM_LIMIT`. */
  @Column({ name: 'rpm_limit', type: 'integer', nullable: true })
  rpmLimit: number | null;

  /** Tokens per minute of all calls billed here; null means `DEFAULT_ORG_TPM_LIMIT`. */
  @Column({ name: 'tpm_limit', type: 'integer', nullable: true })
  tpmLimit: number | null;

  /** `shadow`: limits are counted and reported but never refuse. */
  @Column({ name: 'limits_mode', type: 'text', default: 'enforce' })
  limitsMode: LimitsMode;

  /** Held against the budget by open reservations, in USD. */
  @Column({ type: 'numeric', default: 0 })
  reserved: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
