import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ValidationFailed } from '../common/error-codes.js';
import type { AuditPageDto } from './dto/audit-entry-response.dto.js';
import type { ListAuditQueryDto } from './dto/list-audit.query.dto.js';

@Injectable()
export class AuditService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Newest first, by keyset on `id`. */
  async list(query: ListAuditQueryDto): Promise<AuditPageDto> {
    if (
      query.cursor !== undefined &&
      (!/^\d{1,19}$/.test(query.cursor) || BigInt(query.cursor) > 9_223_372_036_854_775_807n)
    ) {
      throw new ValidationFailed([{ field: 'cursor', message: 'must be a next_cursor value' }]);
    }
    const limit = query.limit ?? 100;
    const filters: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      filters.push(sql.replace('?', `$${params.length}`));
    };
    if (query.action) add('action = ?', query.action);
    if (query.target_type) add('target_type = ?', query.target_type);
    if (query.target_id) add('target_id = ?', query.target_id);
    if (query.actor) add('actor = ?', query.actor);
    if (query.from) add('at >= ?::timestamptz', query.from);
    if (query.to) add('at < ?::timestamptz', query.to);
    if (query.cursor) add('id < ?::bigint', query.cursor);
    params.push(limit + 1);
    const rows: (AuditPageDto['items'][number] & { id: string })[] = await this.dataSource.query(
      `SELECT id::text, at, actor, action, target_type, target_id, before, after, request_id
       FROM audit_log ${filters.length ? `WHERE ${filters.join(' AND ')}` : ''}
       ORDER BY audit_log.id DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, limit);
    return { items, next_cursor: rows.length > limit ? items[items.length - 1].id : null };
  }
}
