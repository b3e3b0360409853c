import { Column, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { User } from './user.entity.js';

/** What a payer was charged in one calendar month (UTC); kept in step with each usage insert. */
@Entity('monthly_spend')
export class MonthlySpend {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'monthly_spend_user_id_fkey', onDelete: 'CASCADE' })
  userId: string;

  @PrimaryColumn({ type: 'date' })
  month: string;

  @Column({ type: 'numeric', default: 0 })
  amount: string;

  @Column({ type: 'bigint', default: 0 })
  requests: string;
}
