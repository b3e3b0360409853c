import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export type CreditPlan = 'prepaid' | 'invoice';

@Entity('users')
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
