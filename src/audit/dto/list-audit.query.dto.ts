import { Type } from 'class-transformer';
import { IsIn, IsInt, IsRFC3339, IsOptional, IsString, Length, Max, Min } from 'class-validator';

export class ListAuditQueryDto {
  /** Only this action, e.g. `api_key.rotate`. */
  @IsOptional()
  @Length(1, 100)
  @IsString()
  action?: string;

  /** Only targets of this type: `user`, `organization`, `api_key`, `service_client`, `model`. */
  @IsOptional()
  @IsIn(['user', 'organization', 'api_key', 'service_client', 'model'])
  target_type?: string;

  @IsOptional()
  @Length(1, 200)
  @IsString()
  target_id?: string;

  /** Only changes by this admin identity. */
  @IsOptional()
  @Length(1, 200)
  @IsString()
  actor?: string;

  /** Changes at or after this time (ISO 8601). */
  @IsOptional()
  @IsRFC3339()
  from?: string;

  /** Changes before this time (ISO 8601). */
  @IsOptional()
  @IsRFC3339()
  to?: string;

  /** Page size, 1–500 (default 100). */
  @IsOptional()
  @Type(() => Number)
  @Min(1)
  @Max(500)
  @IsInt()
  limit?: number;

  /** `next_cursor` of the previous page. */
  @IsOptional()
  @Length(1, 20)
  @IsString()
  cursor?: string;
}
