import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Decimal } from '../common/decimal.js';
import { NotFound, ValidationFailed } from '../common/error-codes.js';
import { decodeCursor, encodeCursor } from '../common/keyset.js';
import { UTC_MONTH, payerStandingQuery } from '../ledger/ledger-sql.js';
import type {
  Group,
  UsageEventsQueryDto,
  UsageFilterDto,
  UsageReportQueryDto,
} from './dto/usage-report.query.dto.js';

const DAY_MS = 86_400_000;
const MAX_HOURLY_DAYS = 31;

export interface UsageBucket {
  start: string;
  model?: string;
  api_key_id?: string;
  organization_id?: string | null;
  user_id?: string;
  requests: Decimal;
  input_tokens: Decimal;
  output_tokens: Decimal;
  cost: Decimal;
}

interface Period {
  from: string;
  to: string;
}

/** The column each grouping reads in the rollups, and its name in the answer. */
const GROUP_COLUMNS: Record<Group, { daily: string; as: string }> = {
  model: { daily: 'm.unique_name', as: 'model' },
  api_key: { daily: 'd.api_key_id', as: 'api_key_id' },
  organization: { daily: 'd.organization_id', as: 'organization_id' },
  user: { daily: 'd.payer_user_id', as: 'user_id' },
};

/** Groupings the platform rollups can answer: they keep one row per period and model. */
const PLATFORM_GROUPS: readonly Group[] = ['model'];

/**
 * The rollup a report reads: the platform's (one row per period and model) when nothing in
 * the report is narrower than the platform, else the one per payer, organization, key and
 * model. Both hold the same sums, so the answer is the same either way.
 */
function rollupTable(
  query: UsageFilterDto,
  groups: Group[],
  bucket: 'hour' | 'day' | 'month',
): string {
  const platform =
    !query.api_key_id &&
    !query.user_id &&
    !query.organization_id &&
    groups.every((group) => PLATFORM_GROUPS.includes(group));
  if (bucket === 'hour') return platform ? 'usage_hourly_platform' : 'usage_hourly';
  return platform ? 'usage_daily_platform' : 'usage_daily';
}

/**
 * Usage reports, from the rollups kept with every insert (never the raw events): day and
 * month buckets from the daily rollups (whole UTC days), hour buckets from the hourly ones
 * (at most 31 days per report); whole-platform reports from the platform rollups.
 */
@Injectable()
export class ReportsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async usage(
    query: UsageReportQueryDto,
  ): Promise<{ period: Period; bucket: string; group_by: Group[]; buckets: UsageBucket[] }> {
    const period = this.period(query);
    const bucket = query.bucket ?? 'day';
    const groups = query.group_by ?? [];
    if (
      bucket === 'hour' &&
      Date.parse(period.to) - Date.parse(period.from) > MAX_HOURLY_DAYS * DAY_MS
    ) {
      throw new ValidationFailed([
        { field: 'bucket', message: `hour buckets cover at most ${MAX_HOURLY_DAYS} days` },
      ]);
    }
    const params: unknown[] = [period.from, period.to];
    const filters = this.filters(query, params, 'd', false);
    const keys = groups.map(
      (group) => `${GROUP_COLUMNS[group].daily} AS ${GROUP_COLUMNS[group].as}`,
    );
    const positions = [1, ...groups.map((_, i) => i + 2)].join(', ');
    // Both read a rollup: hours from an hourly one, days and months from a daily one (whole UTC days).
    const table = rollupTable(query, groups, bucket);
    const [start, range] =
      bucket === 'hour'
        ? [
            `d.hour AT TIME ZONE 'UTC'`,
            `d.hour >= date_trunc('hour', $1::timestamptz) AND d.hour < $2::timestamptz`,
          ]
        : [
            `date_trunc('${bucket}', d.day)`,
            `d.day >= ($1::timestamptz AT TIME ZONE 'UTC')::date
             AND d.day < (($2::timestamptz AT TIME ZONE 'UTC') - interval '1 microsecond')::date + 1`,
          ];
    const sql = `SELECT to_char(${start}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS start ${keys.map((k) => `, ${k}`).join('')},
        sum(d.requests)::text AS requests, sum(d.input_tokens)::text AS input_tokens,
        sum(d.output_tokens)::text AS output_tokens, sum(d.cost)::text AS cost
      FROM ${table} d JOIN models m ON m.id = d.model_id
      WHERE ${range} ${filters}
      GROUP BY ${positions}
      ORDER BY ${positions}`;
    const rows: Record<string, string | null>[] = await this.dataSource.query(sql, params);
    return {
      period,
      bucket,
      group_by: groups,
      buckets: rows.map((row) => ({
        ...row,
        start: row.start!,
        requests: new Decimal(row.requests!),
        input_tokens: new Decimal(row.input_tokens!),
        output_tokens: new Decimal(row.output_tokens!),
        cost: new Decimal(row.cost!),
      })),
    };
  }

  /** Raw events, oldest first, by keyset on (created_at, id). */
  async events(
    query: UsageEventsQueryDto,
  ): Promise<{ items: Record<string, unknown>[]; next_cursor: string | null }> {
    const period = this.period(query);
    const limit = query.limit ?? 100;
    const params: unknown[] = [period.from, period.to];
    const filters = this.filters(query, params, 'e', true);
    let after = '';
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor);
      params.push(cursor.createdAt, cursor.id);
      after = `AND (e.created_at, e.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    params.push(limit + 1);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT e.id, e.created_at, e.created_at::text AS cursor_at, e.api_key_id, e.user_id, e.payer_user_id,
         e.organization_id, e.service_client_id, e.model, e.input_tokens, e.output_tokens,
         e.price_million_input::text, e.price_million_output::text, e.input_cost::text, e.output_cost::text,
         e.total_cost::text, e.client_total_cost::text, e.request_id, e.messages_bytes
       FROM usage_events e
       WHERE e.created_at >= $1::timestamptz AND e.created_at < $2::timestamptz ${filters} ${after}
       ORDER BY e.created_at, e.id LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(({ cursor_at: _cursor, ...row }) => ({
        ...row,
        price_million_input: new Decimal(row.price_million_input as string),
        price_million_output: new Decimal(row.price_million_output as string),
        input_cost: new Decimal(row.input_cost as string),
        output_cost: new Decimal(row.output_cost as string),
        total_cost: new Decimal(row.total_cost as string),
        client_total_cost: Decimal.of(row.client_total_cost as string | null),
      })),
      next_cursor:
        rows.length > limit ? encodeCursor(last.cursor_at as string, last.id as string) : null,
    };
  }

  /** A user's spend this calendar month (UTC), remaining credit, and limits. */
  async spend(userId: string): Promise<Record<string, unknown>> {
    const [row]: Record<string, string | Date | null>[] = await this.dataSource.query(
      `SELECT u.id AS user_id, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS month, u.credit_plan,
         u.credit_limit::text, COALESCE(ms.amount, 0)::text AS spent_this_month, COALESCE(ms.requests, 0)::text AS requests_this_month,
         c.paid::text, c.free::text, c.free_expires_at, c.reserved::text, standing.remaining
       FROM users u JOIN user_credits c ON c.user_id = u.id
       LEFT JOIN monthly_spend ms ON ms.user_id = u.id AND ms.month = ${UTC_MONTH}
       CROSS JOIN LATERAL (${payerStandingQuery('u.id')}) standing
       WHERE u.id = $1`,
      [userId],
    );
    if (!row) throw new NotFound('User');
    const remaining = Decimal.of(row.remaining as string | null);
    return {
      user_id: row.user_id,
      month: row.month,
      plan: row.credit_plan,
      spent_this_month: new Decimal(row.spent_this_month as string),
      requests_this_month: new Decimal(row.requests_this_month as string),
      credit_limit: Decimal.of(row.credit_limit as string | null),
      credit: {
        paid: new Decimal(row.paid as string),
        free: new Decimal(row.free as string),
        free_expires_at: row.free_expires_at,
        reserved: new Decimal(row.reserved as string),
        remaining,
      },
      /** What the plan still allows: the guard's remaining credit (see CreditBalanceDto). */
      remaining,
    };
  }

  private period(query: UsageFilterDto): Period {
    const to = query.to ?? new Date().toISOString();
    const from = query.from ?? new Date(Date.parse(to) - 30 * DAY_MS).toISOString();
    if (Date.parse(from) >= Date.parse(to)) {
      throw new ValidationFailed([{ field: 'from', message: 'must be before `to`' }]);
    }
    return { from, to };
  }

  private filters(query: UsageFilterDto, params: unknown[], alias: string, raw: boolean): string {
    const clauses: string[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      clauses.push(clause.replace('?', `$${params.length}`));
    };
    if (query.model) {
      add(
        raw
          ? `${alias}.model = ?`
          : `${alias}.model_id = (SELECT id FROM models WHERE unique_name = ?)`,
        query.model,
      );
    }
    if (query.api_key_id) add(`${alias}.api_key_id = ?::uuid`, query.api_key_id);
    if (query.user_id) add(`${alias}.payer_user_id = ?::uuid`, query.user_id);
    if (query.organization_id) {
      // The `?` becomes the next parameter's number: both comparisons read the same value.
      add(
        `${alias}.organization_id = (SELECT id FROM organizations WHERE id = ?::uuid OR public_id = $${params.length + 1}::uuid)`,
        query.organization_id,
      );
    }
    return clauses.map((clause) => `AND ${clause}`).join(' ');
  }
}
