import { Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { ApiKey } from './api-key.entity.js';

/**
 * A secret that opens an API key. A key has exactly one current hash (`validUntil` null);
 * rotation bounds the old one to the end of its grace period.
 */
@Entity('api_key_hashes')
// At most one current hash per key: concurrent rotations cannot leave two.
@Index('api_key_hashes_current_idx', ['apiKeyId'], { unique: true, where: 'valid_until IS NULL' })
@Index('api_key_hashes_key_idx', ['apiKeyId'])
@Index('api_key_hashes_legacy_idx', ['legacy'], { where: 'legacy' })
export class ApiKeyHash {
  /** SHA-256 of the key; the key itself is never stored. */
  @PrimaryColumn({ name: 'key_hash', type: 'bytea' })
  keyHash: Buffer;

  @Column({ name: 'api_key_id', type: 'uuid' })
  @ForeignKey(() => ApiKey, { name: 'api_key_hashes_api_key_id_fkey', onDelete: 'CASCADE' })
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
