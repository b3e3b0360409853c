import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** An idempotency key of log-usage, claimed by the call that recorded `usageEventId`. */
@Entity('usage_requests')
export class UsageRequest {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid' })
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
