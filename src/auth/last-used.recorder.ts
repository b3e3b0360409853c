import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { GuardPrincipal } from './guard-principal.js';

const INTERVAL_MS = 60_000;

/**
 * Keeps `last_used_at` of keys and service clients current to the minute without a write on
 * every request: at most one UPDATE per row per minute from this process. The write finishes
 * before the answer is sent, so a later refused request never races with it.
 */
@Injectable()
export class LastUsedRecorder {
  private readonly logger = new Logger(LastUsedRecorder.name);
  private readonly written = new Map<string, number>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Called once a guard route has succeeded; a refused request leaves the database as it was.
   * Returns the writes to wait for, or nothing when both rows were written within the minute
   * (nearly every call: no promise is made).
   */
  recordUse(principal: GuardPrincipal, now = Date.now()): Promise<void> | undefined {
    const service = this.record('service_clients', principal.serviceClientId, now);
    const key = this.record('api_keys', principal.apiKeyId, now);
    if (!service && !key) return undefined;
    return Promise.all([service, key]).then(() => undefined);
  }

  private record(
    table: 'api_keys' | 'service_clients',
    id: string,
    now: number,
  ): Promise<void> | undefined {
    const key = `${table}:${id}`;
    const last = this.written.get(key);
    if (last !== undefined && now - last < INTERVAL_MS) return undefined;
    if (this.written.size > 100_000) this.written.clear();
    this.written.set(key, now);
    return this.dataSource
      .query(`UPDATE ${table} SET last_used_at = now() WHERE id = $1`, [id])
      .then(
        () => undefined,
        (error: Error) => this.logger.warn(`last_used_at not updated: ${error.message}`),
      );
  }
}
