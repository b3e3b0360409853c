import type { Decimal } from '../../common/decimal.js';
import { ApiMoney } from '../../common/openapi.js';

/** One price version of a model. */
export class ModelPriceResponseDto {
  @ApiMoney({ example: 0.5 })
  price_million_input: Decimal;
  @ApiMoney({ example: 0.5 })
  price_million_output: Decimal;
  /** From when this price applied; the next version's time ends it. */
  effective_from: Date;
  /** Until when it applied; null for the current price. */
  effective_until: Date | null;
}
