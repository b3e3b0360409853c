import { Check, Column, Entity, ForeignKey, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { User } from './user.entity.js';

/** A user's prepaid balance: free credit (spent first, may expire) and paid credit. */
@Entity('user_credits')
@Check('user_credits_free_check', `free >= 0`)
export class UserCredit {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  @ForeignKey(() => User, { name: 'user_credits_user_id_fkey', onDelete: 'CASCADE' })
  userId: string;

  @Column({ type: 'numeric', default: 0 })
  paid: string;

  @Column({ type: 'numeric', default: 0 })
  free: string;

  @Column({ name: 'free_expires_at', type: 'timestamptz', nullable: true })
  freeExpiresAt: Date | null;

  /** Held by open reservations, not yet spent. */
  @Column({ type: 'numeric', default: 0 })
  reserved: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
