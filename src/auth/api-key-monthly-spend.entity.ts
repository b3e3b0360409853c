import { Column, Entity, PrimaryColumn } from 'typeorm';

/** What one key was charged in one calendar month (UTC), for monthly spend caps. */
@Entity('api_key_monthly_spend')
export class ApiKeyMonthlySpend {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  apiKeyId: string;

  @PrimaryColumn({ type: 'date' })
  month: string;

  @Column({ type: 'numeric', default: 0 })
  amount: string;
}
