import { CreditDto } from '../../auth/dto/auth-response.dto.js';
import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';

/** What the call cost in USD, computed from the server's price table. */
export class UsageCostDto {
  @ApiMoney({ example: 0.00005 })
  input: Decimal;

  @ApiMoney({ example: 0.00004 })
  output: Decimal;

  @ApiMoney({ example: 0.00009 })
  total: Decimal;

  /** The `total_cost` the caller sent, or null. */
  @ApiMoney({ nullable: true, example: 0.8 })
  client_total: Decimal | null;

  /** True when the caller sent a `total_cost` that differs from the server's. */
  mismatch: boolean;
}

export class UsageResponseDto {
  @ApiInteger({ enum: [201], example: 201 })
  status: number;
  /** @example "Success" */
  message: string;
  /** Id of the stored usage event. */
  id: string;
  cost: UsageCostDto;
  /** The payer's standing after this charge. */
  credit: CreditDto;
}
