import { ApiProperty } from '@nestjs/swagger';
import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';
import { CreditBalanceDto } from '../../users/dto/user-response.dto.js';

/** `GET /api/admin/users/:id/spend`: a user's spend this calendar month (UTC), and standing. */
export class UserSpendResponseDto {
  @ApiProperty({ format: 'uuid' })
  user_id: string;
  /** The calendar month (UTC). @example "2026-12" */
  month: string;
  /** @example "prepaid" */
  plan: 'prepaid' | 'invoice';
  /** USD charged to the user as payer this month. */
  @ApiMoney({ example: 0.00009 })
  spent_this_month: Decimal;
  /** Calls charged to the user as payer this month. */
  @ApiInteger({ format: 'int64', minimum: 0, example: 1 })
  requests_this_month: Decimal;
  /** Monthly limit in USD (invoice plan); null: none. */
  @ApiMoney({ nullable: true, example: null })
  credit_limit: Decimal | null;
  credit: CreditBalanceDto;
  /** What the plan still allows: the guard's remaining credit (as in `credit.remaining`). */
  @ApiMoney({ nullable: true, example: 9.99991 })
  remaining: Decimal | null;
}
