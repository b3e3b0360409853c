import { IsIn, IsOptional, IsRFC3339 } from 'class-validator';
import { IsInstant } from '../../common/instant.js';
import { ApiDateTime } from '../../common/openapi.js';

export const DECISION_BUCKETS = ['hour', 'day'] as const;
export type DecisionBucket = (typeof DECISION_BUCKETS)[number];

export class DecisionsQueryDto {
  /** Start of the period, inclusive (RFC 3339). Default: 24 hours before `to`. */
  @ApiDateTime()
  @IsOptional()
  @IsRFC3339()
  @IsInstant()
  from?: string;

  /** End of the period, exclusive (RFC 3339). Default: now. */
  @ApiDateTime()
  @IsOptional()
  @IsRFC3339()
  @IsInstant()
  to?: string;

  /** `hour` (default; at most 31 days) or `day` (at most 400 days), in UTC. */
  @IsOptional()
  @IsIn(DECISION_BUCKETS)
  bucket?: DecisionBucket;
}
