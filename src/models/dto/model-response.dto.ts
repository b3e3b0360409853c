import { ApiProperty } from '@nestjs/swagger';
import type { Decimal } from '../../common/decimal.js';

export class ModelResponseDto {
  id: string;
  /** @example "cogvlm-chat-17b" */
  unique_name: string;
  enabled: boolean;
  @ApiProperty({ type: 'number', example: 0.5 })
  price_million_input: Decimal;
  @ApiProperty({ type: 'number', example: 0.5 })
  price_million_output: Decimal;
  created_at: Date;
  updated_at: Date;
}
