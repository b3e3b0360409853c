import { ApiProperty } from '@nestjs/swagger';
import type { Decimal } from '../../common/decimal.js';

/** An API key as listed: never the key itself, never its hash. */
export class ApiKeyResponseDto {
  id: string;
  user_id: string;
  name: string;
  /** @example "sk-1a2b3c4d" */
  prefix: string;
  /** @example "9f0e" */
  last4: string;
  @ApiProperty({ type: 'number', nullable: true, example: 25 })
  limit_credit_dollar: Decimal | null;
  /** What the key has been charged so far. */
  @ApiProperty({ type: 'number', example: 1.25 })
  spent_dollar: Decimal;
  allowed_models: string[] | null;
  rpm_limit: number | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

/** The create answer: the only time the key is shown. */
export class CreatedApiKeyResponseDto extends ApiKeyResponseDto {
  /**
   * The key. Store it now: it cannot be shown again.
   * @example "sk-3f1d…"
   */
  key: string;
}
