import { IsBoolean, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { ApiMoney } from '../../common/openapi.js';

export class PutModelDto {
  /** Disabled models answer 404 `model_not_found` on the guard routes. Default true. */
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  /**
   * USD per million input tokens.
   * @example 0.5
   */
  @ApiMoney()
  @Min(0)
  @Max(1_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  price_million_input: number;

  /**
   * USD per million output tokens.
   * @example 0.5
   */
  @ApiMoney()
  @Min(0)
  @Max(1_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  price_million_output: number;
}
