import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { MemberRole } from './organization-member.entity.js';

@Entity('organizations')
export class Organization {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The id callers send in `Swarms-Organization`. */
  @Column({ name: 'public_id', type: 'uuid', unique: true, default: () => 'gen_random_uuid()' })
  publicId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'owner_user_id', type: 'uuid' })
  ownerUserId: string;

  /** Member roles that may bill usage to the organization; its owner always may. */
  @Column({ name: 'spend_roles', type: 'text', array: true, default: ['manager', 'reader'] })
  spendRoles: MemberRole[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
