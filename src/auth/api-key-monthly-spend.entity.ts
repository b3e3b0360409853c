import { Column, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { ApiKey } from './api-key.entity.js';

/** What one key was charged in one calendar month (UTC), for monthly spend caps. */
@Entity('api_key_monthly_spend')
export class ApiKeyMonthlySpend {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'api_key_monthly_spend_api_key_id_fkey', onDelete: 'CASCADE' })
  apiKeyId: string;

  @PrimaryColumn({ type: 'date' })
  month: string;

  @Column({ type: 'numeric', default: 0 })
  amount: string;
}
