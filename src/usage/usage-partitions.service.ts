import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

const MONTHS_AHEAD = 3;
const EVERY_MS = 6 * 60 * 60 * 1000;

/** Whether the current UTC month's partition is attached to `usage_events` (column `present`). */
export const CURRENT_PARTITION_SQL = `
SELECT EXISTS (
  SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'usage_events'::regclass
    AND c.relname = format('usage_events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'))
) AS present
FROM (SELECT now() AT TIME ZONE 'UTC' AS m) now_utc`;

/**
 * Keeps monthly partitions of `usage_events` ready three months ahead, at start and every six
 * hours, so the first second of a month always has its partition. Each month is created in a
 * statement of its own: one that fails (a lock, a full disk) is logged as an error and retried
 * at the next round, and does not hold back the others. Readiness answers 503 while the current
 * month's partition is missing. (Rows no month holds land in the default partition; old months
 * can be detached: see README.)
 */
@Injectable()
export class UsagePartitions implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsagePartitions.name);
  private timer: NodeJS.Timeout | null = null;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.ensure();
    this.timer = setInterval(() => void this.ensure(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Creates the missing partitions, month by month; answers how many were created. */
  async ensure(): Promise<number> {
    let created = 0;
    for (let ahead = 0; ahead <= MONTHS_AHEAD; ahead++) {
      try {
        // From that month to that month: exactly one partition per statement.
        const [row]: { created: number }[] = await this.dataSource.query(
          `SELECT guard_ensure_usage_partitions(
             (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1))::date, $1
           ) AS created`,
          [ahead],
        );
        created += row.created;
      } catch (error) {
        // Until it works, that month's rows land in the default partition.
        this.logger.error(
          `Usage partition ${ahead} month(s) ahead not created: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    if (created > 0) this.logger.log(`Created ${created} monthly usage partition(s)`);
    return created;
  }
}
