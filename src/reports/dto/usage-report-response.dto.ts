import { ApiProperty } from '@nestjs/swagger';
import type { Decimal } from '../../common/decimal.js';
import { ApiDateTime, ApiInteger, ApiMoney } from '../../common/openapi.js';
import type { Group } from './usage-report.query.dto.js';

/** The period a report or event list covers: `from` inclusive, `to` exclusive. */
export class ReportPeriodDto {
  /** As sent, or 30 days before `to`. */
  @ApiDateTime({ example: '2026-11-01T00:00:00Z' })
  from: string;
  /** As sent, or the time of the request. */
  @ApiDateTime({ example: '2026-12-01T00:00:00Z' })
  to: string;
}

/** The usage of one bucket (and one combination of the `group_by` keys). */
export class UsageBucketDto {
  /** Start of the bucket, in UTC. */
  @ApiDateTime({ example: '2026-11-30T00:00:00Z' })
  start: string;
  /** With `group_by=model`: its unique name. @example "cogvlm-chat-17b" */
  model?: string;
  /** With `group_by=api_key`. */
  @ApiProperty({ format: 'uuid' })
  api_key_id?: string;
  /** With `group_by=organization`: null for usage billed to no organization. */
  @ApiProperty({ format: 'uuid' })
  organization_id?: string | null;
  /** With `group_by=user`: the payer. */
  @ApiProperty({ format: 'uuid' })
  user_id?: string;
  /** Calls logged. */
  @ApiInteger({ format: 'int64', minimum: 0, example: 1 })
  requests: Decimal;
  @ApiInteger({ format: 'int64', minimum: 0, example: 100 })
  input_tokens: Decimal;
  @ApiInteger({ format: 'int64', minimum: 0, example: 80 })
  output_tokens: Decimal;
  /** USD charged, from the server's prices. */
  @ApiMoney({ example: 0.00009 })
  cost: Decimal;
}

/** `GET /api/admin/usage`: usage per bucket, from the rollups. */
export class UsageReportResponseDto {
  period: ReportPeriodDto;
  /** @example "day" */
  bucket: 'hour' | 'day' | 'month';
  /** The groupings asked for, in the order asked. @example ["model"] */
  @ApiProperty({ enum: ['model', 'api_key', 'organization', 'user'], isArray: true })
  group_by: Group[];
  /** Buckets with usage only, by start then by group keys. */
  buckets: UsageBucketDto[];
}
