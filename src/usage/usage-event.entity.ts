import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One metered completion: what was used, at which unit prices, and who paid.
 *
 * Partitioned by calendar month (UTC) on `created_at`: the monthly partitions and the default
 * one are made by the migrations and the service, not described here, and inherit this table's
 * keys, checks and indexes. It has no foreign keys: every id it holds was read or locked by
 * the transaction that writes the event, and none of those rows is ever deleted
 * (`DropUsageEventForeignKeys`, docs/ledger.md).
 */
@Entity('usage_events')
@Check('usage_events_input_tokens_check', `input_tokens >= 0`)
@Check('usage_events_output_tokens_check', `output_tokens >= 0`)
@Index('usage_events_api_key_idx', ['apiKeyId', 'createdAt'])
@Index('usage_events_payer_idx', ['payerUserId', 'createdAt'])
@Index('usage_events_organization_idx', ['organizationId', 'createdAt'], {
  where: 'organization_id IS NOT NULL',
})
@Index('usage_events_created_idx', ['createdAt'])
export class UsageEvent {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'api_key_id', type: 'uuid' })
  apiKeyId: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  /** In the primary key: the column the table would be distributed by (docs/scaling.md). */
  @PrimaryColumn({ name: 'payer_user_id', type: 'uuid' })
  payerUserId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'service_client_id', type: 'uuid' })
  serviceClientId: string;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @Column({ type: 'text' })
  model: string;

  @Column({ name: 'input_tokens', type: 'integer' })
  inputTokens: number;

  @Column({ name: 'output_tokens', type: 'integer' })
  outputTokens: number;

  @Column({ name: 'max_tokens', type: 'integer', nullable: true })
  maxTokens: number | null;

  @Column({ type: 'double precision', nullable: true })
  temperature: number | null;

  @Column({ name: 'top_p', type: 'double precision', nullable: true })
  topP: number | null;

  @Column({ type: 'boolean', nullable: true })
  echo: boolean | null;

  @Column({ type: 'boolean', nullable: true })
  stream: boolean | null;

  @Column({ name: 'client_input_cost', type: 'numeric', nullable: true })
  clientInputCost: string | null;

  @Column({ name: 'client_output_cost', type: 'numeric', nullable: true })
  clientOutputCost: string | null;

  @Column({ name: 'client_total_cost', type: 'numeric', nullable: true })
  clientTotalCost: string | null;

  @Column({ name: 'price_million_input', type: 'numeric' })
  priceMillionInput: string;

  @Column({ name: 'price_million_output', type: 'numeric' })
  priceMillionOutput: string;

  @Column({ name: 'input_cost', type: 'numeric' })
  inputCost: string;

  @Column({ name: 'output_cost', type: 'numeric' })
  outputCost: string;

  @Column({ name: 'total_cost', type: 'numeric' })
  totalCost: string;

  @Column({ type: 'jsonb', nullable: true })
  messages: unknown;

  /** Size of the submitted `messages` JSON; messages over the cap are not stored. */
  @Column({ name: 'messages_bytes', type: 'integer', nullable: true })
  messagesBytes: number | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  /** SHA-256 of the canonical request body, to tell a replay from a reuse of `request_id`. */
  @Column({ name: 'request_hash', type: 'bytea', nullable: true, select: false })
  requestHash: Buffer | null;

  /** Part of the key: the table is partitioned by its calendar month (UTC). */
  @PrimaryColumn({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
