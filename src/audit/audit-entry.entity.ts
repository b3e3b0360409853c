import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One admin change: who, what, on which target, the state before and after (no secrets). */
@Entity('audit_log')
@Index('audit_log_target_idx', ['targetType', 'targetId', 'id'])
@Index('audit_log_action_idx', ['action', 'id'])
@Index('audit_log_at_idx', ['at'])
export class AuditEntry {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
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
