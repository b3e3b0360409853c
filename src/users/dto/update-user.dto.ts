import { IsEmail, IsIn, IsNumber, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { ApiMoney } from '../../common/openapi.js';
import type { CreditPlan } from '../user.entity.js';
import { IsOptionalNonNull } from '../../common/validation.js';

export class UpdateUserDto {
  /** null removes it. @example "ada@example.com" */
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsEmail()
  email?: string | null;

  /** @example "invoice" */
  @IsOptionalNonNull()
  @IsIn(['prepaid', 'invoice'])
  credit_plan?: CreditPlan;

  /**
   * Monthly limit in USD for the invoice plan (calendar month, UTC); null for none.
   * @example 500
   */
  @ApiMoney()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(0)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  credit_limit?: number | null;
}
