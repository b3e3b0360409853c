import type { Decimal } from '../../common/decimal.js';
import { ApiMoney } from '../../common/openapi.js';

/** A user's prepaid balance in USD. */
export class CreditBalanceDto {
  @ApiMoney({ example: 10 })
  paid: Decimal;

  @ApiMoney({ example: 5 })
  free: Decimal;

  free_expires_at: Date | null;

  /** What open reservations (calls authorised with `max_tokens`, not yet logged) hold. */
  @ApiMoney({ example: 0 })
  reserved: Decimal;

  /**
   * What the guard sees as remaining: prepaid, unexpired free plus paid credit; invoice, the
   * monthly limit less this calendar month's spend (UTC), null without a limit; both less
   * `reserved`.
   */
  @ApiMoney({ nullable: true, example: 15 })
  remaining: Decimal | null;
}

export class CreditResponseDto {
  credit: CreditBalanceDto;
}

export class UserResponseDto {
  id: string;
  email: string | null;
  credit_plan: 'prepaid' | 'invoice';
  /** Monthly limit in USD (invoice plan). */
  @ApiMoney({ nullable: true, example: null })
  credit_limit: Decimal | null;
  credit: CreditBalanceDto;
  created_at: Date;
  updated_at: Date;
}

export class UserPageDto {
  items: UserResponseDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}
