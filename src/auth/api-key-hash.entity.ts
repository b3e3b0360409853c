import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A secret that opens an API key. A key has exactly one current hash (`validUntil` null);
 * rotation bounds the old one to the end of its grace period.
 */
@Entity('api_key_hashes')
export class ApiKeyHash {
  /** SHA-256 of the key; the key itself is never stored. */
  @PrimaryColumn({ name: 'key_hash', type: 'bytea' })
  keyHash: Buffer;

  @Column({ name: 'api_key_id', type: 'uuid' })
  apiKeyId: string;

  @Column({ type: 'text' })
  prefix: string;

  @Column({ type: 'text' })
  last4: string;

  /** Imported from the old platform: no checksum. */
  @Column({ type: 'boolean', default: false })
  legacy: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil: Date | null;
}
