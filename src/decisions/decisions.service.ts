import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Decimal } from '../common/decimal.js';
import { ValidationFailed } from '../common/error-codes.js';
import type { DecisionBucket, DecisionsQueryDto } from './dto/decisions-query.dto.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DEFAULT_PERIOD_MS = DAY_MS;
/** The longest period each bucket answers, in days. */
const MAX_DAYS: Record<DecisionBucket, number> = { hour: 31, day: 400 };
/** A bucket's length: UTC days are 24 hours, whatever the session's time zone says. */
const BUCKET_INTERVAL: Record<DecisionBucket, string> = { hour: '1 hour', day: '24 hours' };

export interface DecisionBucketRow {
  start: string;
  route: string;
  status: number;
  decision: string;
  count: Decimal;
}

/**
 * Whole buckets (UTC hours or days) that cover [from, to), summed over the hourly rows in one
 * statement, sorted by start, route, status and decision (routes and decisions bytewise).
 */
const REPORT_SQL = `SELECT to_char(b.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS start,
    b.route, b.status, b.decision, b.count::text AS count
  FROM (
    SELECT date_trunc($3, d.hour, 'UTC') AS start, d.route, d.status, d.decision, sum(d.count) AS count
    FROM guard_decisions_hourly d
    WHERE d.hour >= date_trunc($3, $1::timestamptz, 'UTC')
      AND d.hour < date_trunc($3, $2::timestamptz - interval '1 microsecond', 'UTC') + $4::interval
    GROUP BY 1, 2, 3, 4
  ) b
  ORDER BY b.start, b.route COLLATE "C", b.status, b.decision COLLATE "C"`;

/** The guard's decisions over a period, from the hourly counts the instances wrote. */
@Injectable()
export class DecisionsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async report(query: DecisionsQueryDto): Promise<{
    from: string;
    to: string;
    bucket: DecisionBucket;
    buckets: DecisionBucketRow[];
  }> {
    const bucket = query.bucket ?? 'hour';
    const to = query.to ?? new Date().toISOString();
    const from = query.from ?? new Date(Date.parse(to) - DEFAULT_PERIOD_MS).toISOString();
    const span = Date.parse(to) - Date.parse(from);
    if (span <= 0) throw new ValidationFailed([{ field: 'from', message: 'must be before `to`' }]);
    if (span > MAX_DAYS[bucket] * DAY_MS) {
      throw new ValidationFailed([
        { field: 'bucket', message: `${bucket} buckets cover at most ${MAX_DAYS[bucket]} days` },
      ]);
    }
    const rows: {
      start: string;
      route: string;
      status: number;
      decision: string;
      count: string;
    }[] = await this.dataSource.query(REPORT_SQL, [from, to, bucket, BUCKET_INTERVAL[bucket]]);
    return {
      from,
      to,
      bucket,
      buckets: rows.map((row) => ({ ...row, count: new Decimal(row.count) })),
    };
  }
}
