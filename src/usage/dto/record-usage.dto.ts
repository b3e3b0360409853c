import {
  Allow,
  IsBoolean,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
} from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { SEED_USAGE_BODY } from '../../auth/seed-examples.js';
import { ApiAnyJson, ApiInteger } from '../../common/openapi.js';

const MAX_TOKENS = 1_000_000_000;
// The largest value of the Postgres `integer` it is stored in.
const MAX_MAX_TOKENS = 2_147_483_647;

/**
 * Body of `POST /api/guard/log-usage`: what one completion used. Numbers must be JSON numbers
 * (`"12"` is refused); fields not listed here are refused; `null` for an optional field means
 * absent.
 */
export class RecordUsageDto {
  /**
   * The model that ran.
   * @example "cogvlm-chat-17b"
   */
  @ApiProperty()
  @Length(1, 200)
  @IsString()
  model: string;

  /** @example 100 */
  @ApiInteger()
  @Min(0)
  @Max(MAX_TOKENS)
  @IsInt()
  input_tokens: number;

  /** @example 80 */
  @ApiInteger()
  @Min(0)
  @Max(MAX_TOKENS)
  @IsInt()
  output_tokens: number;

  /** @example 200 */
  @ApiInteger()
  @IsOptional()
  @Min(0)
  @Max(MAX_MAX_TOKENS)
  @IsInt()
  max_tokens?: number | null;

  /** @example 0.7 */
  @IsOptional()
  @Min(0)
  @Max(2)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  temperature?: number | null;

  /** @example 0.9 */
  @IsOptional()
  @Min(0)
  @Max(1)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  top_p?: number | null;

  /**
   * The caller's own figure, kept for audit only; billing uses the server's price table.
   * @example 0.5
   */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  input_cost?: number | null;

  /** @example 0.3 */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  output_cost?: number | null;

  /** @example 0.8 */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  total_cost?: number | null;

  @IsOptional()
  @IsBoolean()
  echo?: boolean | null;

  @IsOptional()
  @IsBoolean()
  stream?: boolean | null;

  /**
   * The conversation, any JSON (usually the array of chat messages). Stored with the event per
   * `MESSAGE_STORAGE`, up to `MESSAGES_MAX_BYTES` of JSON; above that only its size is kept,
   * and the usage is still recorded.
   */
  @ApiAnyJson({ example: SEED_USAGE_BODY.messages })
  @IsOptional()
  @Allow()
  messages?: unknown;

  /**
   * The `reservation.id` that `/api/guard/auth` answered, if it reserved: the reservation is
   * settled at this call's real cost and the rest released. (A reservation made with the same
   * `request_id` is found without it.)
   */
  @IsOptional()
  @IsUUID()
  reservation_id?: string | null;

  /**
   * Idempotency key, scoped to the API key (also accepted as the `Idempotency-Key` header).
   * @example "req-5f1c2e"
   */
  @IsOptional()
  @Length(1, 255)
  @IsString()
  request_id?: string | null;
}
