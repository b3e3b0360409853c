import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export type CreditPlan = 'prepaid' | 'invoice';

@Entity('users')
@Check('users_credit_plan_check', `credit_plan IN ('prepaid', 'invoice')`)
@Check('users_credit_limit_check', `credit_limit >= 0`)
// `UNIQUE (lower(email))`: an expression index, which TypeORM cannot state; the migration owns it.
@Index('users_email_lower_idx', { synchronize: false })
export class User {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Unique whatever its case. */
  @Column({ type: 'text', nullable: true })
  email: string | null;

  @Column({ name: 'credit_plan', type: 'text', default: 'prepaid' })
  creditPlan: CreditPlan;

  /** Monthly spending limit in USD for invoice users. */
  @Column({ name: 'credit_limit', type: 'numeric', nullable: true })
  creditLimit: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
