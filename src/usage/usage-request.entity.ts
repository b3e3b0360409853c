import { Column, CreateDateColumn, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { ApiKey } from '../auth/api-key.entity.js';

/**
 * An idempotency key of log-usage, claimed by the call that recorded `usageEventId`. (No
 * foreign key to the event: `usage_events` is partitioned, its key includes `created_at`.)
 */
@Entity('usage_requests')
export class UsageRequest {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'usage_requests_api_key_id_fkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'request_id', type: 'text' })
  requestId: string;

  /** SHA-256 of the canonical body: the same id with another body is refused. */
  @Column({ name: 'request_hash', type: 'bytea' })
  requestHash: Buffer;

  @Column({ name: 'usage_event_id', type: 'uuid' })
  usageEventId: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
