import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { User } from '../users/user.entity.js';
import { Organization } from './organization.entity.js';

export type MemberRole = 'manager' | 'reader';

@Entity('organization_members')
@Check('organization_members_role_check', `role IN ('manager', 'reader')`)
// One active membership per user and organization; removed ones stay for the record.
@Index('organization_members_active_idx', ['organizationId', 'userId'], {
  unique: true,
  where: 'removed_at IS NULL',
})
@Index('organization_members_user_idx', ['userId'])
export class OrganizationMember {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  @ForeignKey(() => Organization, {
    name: 'organization_members_organization_id_fkey',
    onDelete: 'CASCADE',
  })
  organizationId: string;

  @Column({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'organization_members_user_id_fkey' })
  userId: string;

  @Column({ type: 'text' })
  role: MemberRole;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** Set when the member is removed; the row stays for the record. */
  @Column({ name: 'removed_at', type: 'timestamptz', nullable: true })
  removedAt: Date | null;
}
