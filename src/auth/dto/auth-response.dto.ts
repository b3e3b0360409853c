import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';

/** The payer's standing, in USD. */
export class CreditDto {
  /** @example "prepaid" */
  plan: 'prepaid' | 'invoice';
  /**
   * Prepaid: unexpired free plus paid credit. Invoice: monthly limit minus this calendar
   * month's spend (UTC); null when the invoice plan has no limit. Both less what open
   * reservations hold; with a reservation, after it holds its own amount.
   */
  @ApiMoney({ nullable: true, example: 9.5 })
  remaining: Decimal | null;
}

/** What `/auth` set aside for the call (when it sent `max_tokens`), until log-usage settles it. */
export class ReservationDto {
  /**
   * Send it back as `reservation_id` to log-usage, or the same `request_id`; usage logged with
   * neither settles the key's oldest open reservation for the model that has no `request_id`.
   */
  id: string;
  /** The largest cost the call can have, in USD. */
  @ApiMoney({ example: 0.0003 })
  amount: Decimal;
  /** When it is released if no usage settles it. */
  expires_at: Date;
}

export class AuthResponseDto {
  @ApiInteger({ enum: [200], example: 200 })
  status: number;
  /** @example "Success" */
  message: string;
  api_key_id: string;
  /** The key's owner. */
  user_id: string;
  /** The organization's public_id when `Swarms-Organization` was sent, else null. */
  organization_id: string | null;
  /** @example "cogvlm-chat-17b" */
  model: string;
  credit: CreditDto;
  /** Present when the request sent `max_tokens`. */
  reservation?: ReservationDto;
}
