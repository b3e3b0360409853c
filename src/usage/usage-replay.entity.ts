import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The first answer (JSON text) to a log-usage call with a `request_id`, for replays. (No
 * foreign key to the event: `usage_events` is partitioned, its key includes `created_at`.)
 */
@Entity('usage_replays')
export class UsageReplay {
  @PrimaryColumn({ name: 'usage_event_id', type: 'uuid' })
  usageEventId: string;

  @Column({ type: 'text' })
  response: string;
}
