import { IsIn, IsRFC3339, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { IsInstant } from '../../common/instant.js';
import { ApiDateTime, ApiMoney } from '../../common/openapi.js';

export class AddCreditDto {
  /**
   * USD to add; greater than 0.
   * @example 10
   */
  @ApiMoney()
  @Min(0.000001)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  amount: number;

  /**
   * `paid` (default) or `free`. Free credit is spent first and may expire.
   * @example "paid"
   */
  @IsOptional()
  @IsIn(['paid', 'free'])
  kind?: 'paid' | 'free';

  /**
   * Free credit only: when the free balance expires (ISO 8601, in the future). The free
   * balance has one expiry: the latest grant's.
   * @example "2027-01-01T00:00:00Z"
   */
  @ApiDateTime()
  @IsOptional()
  @IsRFC3339()
  @IsInstant()
  expires_at?: string;
}
