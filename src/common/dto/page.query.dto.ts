import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { ApiInteger } from '../openapi.js';

/** Keyset pagination: `limit`, and the `next_cursor` of the previous page. */
export class PageQueryDto {
  /** Page size, 1–500 (default 100). */
  @ApiInteger({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @Min(1)
  @Max(500)
  @IsInt()
  limit?: number;

  /** `next_cursor` of the previous page. */
  @IsOptional()
  @Length(1, 200)
  @IsString()
  cursor?: string;
}
