import { IsIn, IsOptional, IsRFC3339, IsString, Length } from 'class-validator';
import { IsInstant } from '../../common/instant.js';
import { ApiDateTime } from '../../common/openapi.js';
import { PageQueryDto } from '../../common/dto/page.query.dto.js';

export class ListAuditQueryDto extends PageQueryDto {
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
  @ApiDateTime()
  @IsOptional()
  @IsRFC3339()
  @IsInstant()
  from?: string;

  /** Changes before this time (ISO 8601). */
  @ApiDateTime()
  @IsOptional()
  @IsRFC3339()
  @IsInstant()
  to?: string;
}
