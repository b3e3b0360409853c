import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A secret of a service client; exactly one is current, rotated ones live out their grace. */
@Entity('service_client_secrets')
export class ServiceClientSecret {
  /** SHA-256 of the secret; the secret itself is never stored. */
  @PrimaryColumn({ name: 'secret_hash', type: 'bytea' })
  secretHash: Buffer;

  @Column({ name: 'service_client_id', type: 'uuid' })
  serviceClientId: string;

  @Column({ type: 'text' })
  prefix: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil: Date | null;
}
