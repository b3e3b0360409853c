import { ApiProperty } from '@nestjs/swagger';
import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';

/** One metered completion as stored: who used what, at which unit prices, and who paid. */
export class UsageEventResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  created_at: Date;
  @ApiProperty({ format: 'uuid' })
  api_key_id: string;
  /** The key's owner. */
  @ApiProperty({ format: 'uuid' })
  user_id: string;
  /** Who was charged: the organization's owner, else the key's owner. */
  @ApiProperty({ format: 'uuid' })
  payer_user_id: string;
  /** The organization billed (internal id), or null. */
  @ApiProperty({ format: 'uuid' })
  organization_id: string | null;
  /** The calling service. */
  @ApiProperty({ format: 'uuid' })
  service_client_id: string;
  /** @example "cogvlm-chat-17b" */
  model: string;
  @ApiInteger({ minimum: 0, example: 100 })
  input_tokens: number;
  @ApiInteger({ minimum: 0, example: 80 })
  output_tokens: number;
  /** The unit price charged, USD per million input tokens. */
  @ApiMoney({ example: 0.5 })
  price_million_input: Decimal;
  /** The unit price charged, USD per million output tokens. */
  @ApiMoney({ example: 0.5 })
  price_million_output: Decimal;
  @ApiMoney({ example: 0.00005 })
  input_cost: Decimal;
  @ApiMoney({ example: 0.00004 })
  output_cost: Decimal;
  @ApiMoney({ example: 0.00009 })
  total_cost: Decimal;
  /** The `total_cost` the caller sent, kept for audit; null when it sent none. */
  @ApiMoney({ nullable: true, example: 0.8 })
  client_total_cost: Decimal | null;
  /** The idempotency key of the call, if it had one. */
  request_id: string | null;
  /** Size of the `messages` JSON the call sent, in bytes; null when it sent none. */
  @ApiInteger({ minimum: 0, example: 312 })
  messages_bytes: number | null;
}

/** `GET /api/admin/usage/events`: one page of events, oldest first. */
export class UsageEventPageDto {
  items: UsageEventResponseDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}
