import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsRFC3339,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { IsInstant } from '../../common/instant.js';
import { ApiDateTime, ApiInteger, ApiMoney } from '../../common/openapi.js';
import type { SpendPeriod } from '../api-key.entity.js';
import { IsOptionalNonNull } from '../../common/validation.js';
import { LIMITS_MODES, type LimitsMode } from '../../limits/limits-mode.js';

/** The settings of a key, shared by create, import and update. */
export class ApiKeySettingsDto {
  /**
   * Spend cap of this key in USD per `spend_period`; auth answers 402 `api_key_limit_exceeded`
   * once the key has been charged this much. Null: no cap.
   * @example 25
   */
  @ApiMoney()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(0)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  limit_credit_dollar?: number | null;

  /**
   * `lifetime` (default): the cap covers everything the key was ever charged. `monthly`: the
   * cap covers the current calendar month (UTC).
   * @example "monthly"
   */
  @IsOptionalNonNull()
  @IsIn(['lifetime', 'monthly'])
  spend_period?: SpendPeriod;

  /**
   * Models this key may run; null: every enabled model.
   * @example ["cogvlm-chat-17b"]
   */
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @ArrayMaxSize(1000)
  @Length(1, 200, { each: true })
  @IsString({ each: true })
  @IsArray()
  allowed_models?: string[] | null;

  /**
   * When the key stops working (ISO 8601, in the future); null: never.
   * @example "2027-06-30T00:00:00Z"
   */
  @ApiDateTime()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsRFC3339()
  @IsInstant()
  expires_at?: string | null;

  /**
   * Requests per minute on `/api/guard/auth`; null: `DEFAULT_RPM_LIMIT`.
   * @example 600
   */
  @ApiInteger()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(1)
  @Max(10_000_000)
  @IsInt()
  rpm_limit?: number | null;

  /**
   * Tokens per minute on `/api/guard/auth` (reserved from `max_tokens` + `input_tokens`, settled
   * by log-usage); null: `DEFAULT_TPM_LIMIT` (none when unset).
   * @example 100000
   */
  @ApiInteger()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(1)
  @Max(2_000_000_000)
  @IsInt()
  tpm_limit?: number | null;

  /**
   * Calls in flight at once (from auth to its log-usage, or the lease's expiry); null:
   * `DEFAULT_CONCURRENCY_LIMIT` (none when unset).
   * @example 8
   */
  @ApiInteger()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(1)
  @Max(1_000_000)
  @IsInt()
  concurrency_limit?: number | null;

  /**
   * `enforce` (default): over a limit, auth answers 429. `shadow`: the limits are counted and
   * reported in the headers, but never refuse.
   * @example "shadow"
   */
  @IsOptionalNonNull()
  @IsIn(LIMITS_MODES)
  limits_mode?: LimitsMode;

  /**
   * Free-form labels, a JSON object of at most 8 KiB.
   * @example {"team": "search", "env": "prod"}
   */
  @IsOptionalNonNull()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class CreateApiKeyDto extends ApiKeySettingsDto {
  /** The key's owner. */
  @IsUUID()
  user_id: string;

  /** @example "production" */
  @Length(1, 200)
  @IsString()
  name: string;
}

export class ImportApiKeyDto extends CreateApiKeyDto {
  /**
   * The key as issued by the old platform: `sk-` and 8 to 250 printable characters. Stored
   * hashed, flagged legacy (no checksum).
   */
  @Length(11, 253)
  @IsString()
  key: string;
}

export class UpdateApiKeyDto extends ApiKeySettingsDto {
  /** @example "production (EU)" */
  @IsOptionalNonNull()
  @Length(1, 200)
  @IsString()
  name?: string;
}

export class RotateApiKeyDto {
  /**
   * How long the current key keeps working beside the new one, 0 to 604800 (7 days).
   * 0 (default): it stops at once.
   * @example 3600
   */
  @ApiInteger()
  @IsOptional()
  @Min(0)
  @Max(604_800)
  @IsInt()
  grace_seconds?: number;
}
