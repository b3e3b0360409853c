import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Usage per day (UTC), payer, organization, key and model, kept in step with every insert,
 * so reports and budgets never scan raw events. (Its unique key, which treats "no
 * organization" as one value, is an expression index in the migration.)
 */
@Entity('usage_daily')
export class UsageDaily {
  @PrimaryColumn({ type: 'date' })
  day: string;

  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @PrimaryColumn({ name: 'payer_user_id', type: 'uuid' })
  payerUserId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ type: 'bigint' })
  requests: string;

  @Column({ name: 'input_tokens', type: 'bigint' })
  inputTokens: string;

  @Column({ name: 'output_tokens', type: 'bigint' })
  outputTokens: string;

  @Column({ type: 'numeric' })
  cost: string;
}
