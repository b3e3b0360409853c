import { IsEmail, IsIn, IsNumber, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { ApiMoney } from '../../common/openapi.js';
import type { CreditPlan } from '../user.entity.js';

export class CreateUserDto {
  /** @example "ada@example.com" */
  @IsOptional()
  @IsEmail()
  email?: string;

  /**
   * `prepaid` spends credit; `invoice` is billed monthly up to `credit_limit`.
   * @example "prepaid"
   */
  @IsOptional()
  @IsIn(['prepaid', 'invoice'])
  credit_plan?: CreditPlan;

  /**
   * Monthly limit in USD for the invoice plan (calendar month, UTC); null for none.
   * @example 100
   */
  @ApiMoney()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(0)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  credit_limit?: number | null;
}
