import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A user's prepaid balance: free credit (spent first, may expire) and paid credit. */
@Entity('user_credits')
export class UserCredit {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ type: 'numeric', default: 0 })
  paid: string;

  @Column({ type: 'numeric', default: 0 })
  free: string;

  @Column({ name: 'free_expires_at', type: 'timestamptz', nullable: true })
  freeExpiresAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
