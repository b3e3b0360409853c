import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ApiInteger } from '../../common/openapi.js';

export class RotateSecretDto {
  /**
   * How long the current secret keeps working beside the new one, 0 to 604800 (7 days).
   * 0 (default): it stops at once.
   * @example 3600
   */
  @ApiInteger()
  @IsOptional()
  @Min(0)
  @Max(604_800)
  @IsInt()
  grace_seconds?: number;
}
