import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { INVALIDATION_CHANNEL, type Invalidation } from '../auth-cache/invalidation.js';
import { serializeJson } from '../common/decimal.js';
import type { AdminActor } from './admin-actor.js';

export interface AuditRecord {
  /** `<target type>.<verb>`, e.g. `api_key.rotate`. */
  action: string;
  targetType: string;
  targetId: string;
  /** State before and after, as answered by the API: never a secret. */
  before?: unknown;
  after?: unknown;
}

export interface AdminChange {
  manager: EntityManager;
  /** The change's audit row, written in its transaction. */
  audit(record: AuditRecord): Promise<void>;
  /** Cache entries the change makes stale, on every instance, from the commit on. */
  invalidate(...invalidations: Invalidation[]): Promise<void>;
}

/**
 * Runs an admin change in one transaction with its audit row and its cache invalidations
 * (NOTIFY, delivered to every instance at commit; applied here at once after it).
 */
@Injectable()
export class AdminChanges {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cache: AuthCache,
  ) {}

  async run<T>(actor: AdminActor, work: (change: AdminChange) => Promise<T>): Promise<T> {
    const invalidations = new Set<Invalidation>();
    const result = await this.dataSource.transaction(async (manager) => {
      const change: AdminChange = {
        manager,
        audit: async (record) => {
          await manager.query(
            `INSERT INTO audit_log (actor, action, target_type, target_id, before, after, request_id)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)`,
            [
              actor.name,
              record.action,
              record.targetType,
              record.targetId,
              record.before === undefined ? null : serializeJson(record.before),
              record.after === undefined ? null : serializeJson(record.after),
              actor.requestId,
            ],
          );
        },
        invalidate: async (...list) => {
          for (const invalidation of list) {
            if (invalidations.has(invalidation)) continue;
            invalidations.add(invalidation);
            await manager.query('SELECT pg_notify($1, $2)', [INVALIDATION_CHANNEL, invalidation]);
          }
        },
      };
      return work(change);
    });
    for (const invalidation of invalidations) this.cache.apply(invalidation);
    return result;
  }
}
