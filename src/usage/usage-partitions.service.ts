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

/**
 * Keeps monthly partitions of `usage_events` ready three months ahead, at start and every six
 * hours, so the first second of a month always has its partition. (Rows no month holds land
 * in the default partition; old months can be detached: see README.)
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

  async ensure(): Promise<number> {
    try {
      const [{ created }]: { created: number }[] = await this.dataSource.query(
        `SELECT guard_ensure_usage_partitions((now() AT TIME ZONE 'UTC')::date, $1) AS created`,
        [MONTHS_AHEAD],
      );
      if (created > 0) this.logger.log(`Created ${created} monthly usage partition(s)`);
      return created;
    } catch (error) {
      // Not fatal: until it works, rows land in the default partition.
      this.logger.warn(
        `Usage partitions not ensured: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 0;
    }
  }
}
