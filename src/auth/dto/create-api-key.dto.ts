import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';

export class CreateApiKeyDto {
  /** The key's owner. */
  @IsUUID()
  user_id: string;

  /** @example "production" */
  @Length(1, 200)
  @IsString()
  name: string;

  /**
   * Lifetime spend cap of this key in USD; auth answers 402 `api_key_limit_exceeded` once
   * the key has been charged this much. Null or absent: no cap.
   * @example 25
   */
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(0)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  limit_credit_dollar?: number | null;

  /**
   * Models this key may run; null or absent: every enabled model.
   * @example ["cogvlm-chat-17b"]
   */
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @ArrayMaxSize(1000)
  @Length(1, 200, { each: true })
  @IsArray()
  @IsString({ each: true })
  allowed_models?: string[] | null;

  /**
   * When the key stops working (ISO 8601, in the future).
   * @example "2027-06-30T00:00:00Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string;

  /**
   * Requests per minute on `/api/guard/auth`; absent: `DEFAULT_RPM_LIMIT`.
   * @example 600
   */
  @IsOptional()
  @Min(1)
  @Max(10_000_000)
  @IsInt()
  rpm_limit?: number;
}
