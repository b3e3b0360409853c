import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One admin change: who, what, on which target, the state before and after (no secrets). */
@Entity('audit_log')
export class AuditEntry {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at: Date;

  /** The admin credential that made the change, e.g. `admin-token:3fa2c1d9`. */
  @Column({ type: 'text' })
  actor: string;

  /** e.g. `api_key.rotate` */
  @Column({ type: 'text' })
  action: string;

  @Column({ name: 'target_type', type: 'text' })
  targetType: string;

  @Column({ name: 'target_id', type: 'text' })
  targetId: string;

  @Column({ type: 'jsonb', nullable: true })
  before: unknown;

  @Column({ type: 'jsonb', nullable: true })
  after: unknown;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;
}
