import { Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { ServiceClient } from './service-client.entity.js';

/** A secret of a service client; exactly one is current, rotated ones live out their grace. */
@Entity('service_client_secrets')
@Index('service_client_secrets_current_idx', ['serviceClientId'], {
  unique: true,
  where: 'valid_until IS NULL',
})
@Index('service_client_secrets_client_idx', ['serviceClientId'])
export class ServiceClientSecret {
  /** SHA-256 of the secret; the secret itself is never stored. */
  @PrimaryColumn({ name: 'secret_hash', type: 'bytea' })
  secretHash: Buffer;

  @Column({ name: 'service_client_id', type: 'uuid' })
  @ForeignKey(() => ServiceClient, {
    name: 'service_client_secrets_service_client_id_fkey',
    onDelete: 'CASCADE',
  })
  serviceClientId: string;

  @Column({ type: 'text' })
  prefix: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil: Date | null;
}
