import type { Decimal } from '../../common/decimal.js';
import { ApiDateTime, ApiInteger } from '../../common/openapi.js';

/** Guard calls of one bucket, route, HTTP status and decision. */
export class DecisionBucketDto {
  /** Start of the bucket (UTC hour or day). */
  @ApiDateTime({ example: '2026-12-02T04:00:00Z' })
  start: string;
  /** The route pattern called. @example "/api/guard/auth" */
  route: string;
  /** The HTTP status answered. */
  @ApiInteger({ minimum: 100, maximum: 599, example: 402 })
  status: number;
  /** `ok` for granted calls, else the error code answered. @example "insufficient_credits" */
  decision: string;
  /** Calls answered so. */
  @ApiInteger({ format: 'int64', minimum: 1, example: 3 })
  count: Decimal;
}

/**
 * `GET /api/admin/decisions`: the guard's decisions per bucket, as the instances last wrote
 * them (each writes its counts every `DECISION_FLUSH_MS`, 5 s by default).
 */
export class DecisionsResponseDto {
  /** As sent, or 24 hours before `to`. */
  @ApiDateTime({ example: '2026-12-01T05:00:00Z' })
  from: string;
  /** As sent, or the time of the request. */
  @ApiDateTime({ example: '2026-12-02T05:00:00Z' })
  to: string;
  /** @example "hour" */
  bucket: 'hour' | 'day';
  /** Buckets with calls only, by start, route, status, then decision. */
  buckets: DecisionBucketDto[];
}
