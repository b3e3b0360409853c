import type { Decimal } from '../../common/decimal.js';
import { ApiMoney } from '../../common/openapi.js';

export class ModelResponseDto {
  id: string;
  /** @example "cogvlm-chat-17b" */
  unique_name: string;
  enabled: boolean;
  @ApiMoney({ example: 0.5 })
  price_million_input: Decimal;
  @ApiMoney({ example: 0.5 })
  price_million_output: Decimal;
  created_at: Date;
  updated_at: Date;
}
