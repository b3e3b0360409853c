import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';

/** An API key as listed: never the key itself, never its hash. */
export class ApiKeyResponseDto {
  id: string;
  user_id: string;
  name: string;
  /** Start of the current key. @example "sk-1a2b3c4d" */
  prefix: string;
  /** @example "9f0e" */
  last4: string;
  /** Imported from the old platform (no checksum). */
  legacy: boolean;
  @ApiMoney({ nullable: true, example: 25 })
  limit_credit_dollar: Decimal | null;
  /** @example "lifetime" */
  spend_period: 'lifetime' | 'monthly';
  /** What the key has been charged in all. */
  @ApiMoney({ example: 1.25 })
  spent_dollar: Decimal;
  /** What the key has been charged this calendar month (UTC). */
  @ApiMoney({ example: 0.75 })
  spent_this_month: Decimal;
  allowed_models: string[] | null;
  /** Requests per minute on `/api/guard/auth`; null: `DEFAULT_RPM_LIMIT`. */
  @ApiInteger({ nullable: true, example: 600 })
  rpm_limit: number | null;
  /** Tokens per minute on `/api/guard/auth`; null: `DEFAULT_TPM_LIMIT`. */
  @ApiInteger({ nullable: true, example: 100000 })
  tpm_limit: number | null;
  /** Calls in flight at once; null: `DEFAULT_CONCURRENCY_LIMIT`. */
  @ApiInteger({ nullable: true, example: 8 })
  concurrency_limit: number | null;
  /** `enforce`, or `shadow`: limits counted and reported, never refusing. */
  limits_mode: 'enforce' | 'shadow';
  metadata: object;
  expires_at: Date | null;
  revoked_at: Date | null;
  rotated_at: Date | null;
  /** Until when the key before the last rotation still works; null when it no longer does. */
  previous_key_valid_until: Date | null;
  last_used_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The answer of create and rotate: the only time the key is shown. */
export class CreatedApiKeyResponseDto extends ApiKeyResponseDto {
  /**
   * The key. Store it now: it cannot be shown again.
   * @example "sk-3f1d…"
   */
  key: string;
}

export class ApiKeyPageDto {
  items: ApiKeyResponseDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}
