import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';

/**
 * In production, refuses to start on a Postgres that can lose what it acknowledged: with
 * `fsync` or `synchronous_commit` off, a 201 for a usage call or a credit grant could vanish in
 * a crash. (As the service's own sessions see them, so a per-database or per-role setting
 * counts too.)
 */
@Injectable()
export class DurabilityCheck implements OnApplicationBootstrap {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.production) return;
    const rows: { name: string; setting: string }[] = await this.dataSource.query(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')`,
    );
    const off = rows.filter((row) => row.setting === 'off').map((row) => `${row.name}=off`);
    if (off.length > 0) {
      throw new Error(
        `Postgres runs with ${off.join(' and ')}: acknowledged usage could be lost in a crash; ` +
          'refusing to start with NODE_ENV=production',
      );
    }
  }
}
