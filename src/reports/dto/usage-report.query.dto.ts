import { Transform, Type } from 'class-transformer';
import {
  ArrayUnique,
  IsIn,
  IsInt,
  IsOptional,
  IsRFC3339,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
} from 'class-validator';
import { IsInstant } from '../../common/instant.js';
import { ApiDateTime, ApiInteger } from '../../common/openapi.js';

export const GROUPS = ['model', 'api_key', 'organization', 'user'] as const;
export type Group = (typeof GROUPS)[number];

/** Filters shared by the usage report and the event list. */
export class UsageFilterDto {
  /** Start of the period, inclusive (RFC 3339). Default: 30 days before `to`. */
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

  /** Only this model (its unique name). */
  @IsOptional()
  @Length(1, 200)
  @IsString()
  model?: string;

  @IsOptional()
  @IsUUID()
  api_key_id?: string;

  /** The organization's id or public_id. */
  @IsOptional()
  @IsUUID()
  organization_id?: string;

  /** Only usage billed to this user (the payer). */
  @IsOptional()
  @IsUUID()
  user_id?: string;
}

export class UsageReportQueryDto extends UsageFilterDto {
  /** `hour`, `day` (default) or `month`, in UTC. */
  @IsOptional()
  @IsIn(['hour', 'day', 'month'])
  bucket?: 'hour' | 'day' | 'month';

  /** Comma-separated: any of `model`, `api_key`, `organization`, `user` (the payer). */
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? value.split(',').filter(Boolean) : value))
  @ArrayUnique()
  @IsIn(GROUPS, { each: true })
  group_by?: Group[];
}

export class UsageEventsQueryDto extends UsageFilterDto {
  /** Page size, 1–1000 (default 100). */
  @ApiInteger({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @Min(1)
  @Max(1000)
  @IsInt()
  limit?: number;

  /** `next_cursor` of the previous page. */
  @IsOptional()
  @Length(1, 200)
  @IsString()
  cursor?: string;
}
