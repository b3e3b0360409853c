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

const MAX_TOKENS = 1_000_000_000;
// The largest value of the Postgres `integer` it is stored in.
const MAX_MAX_TOKENS = 2_147_483_647;

/** Body of `POST /api/guard/log-usage`: what one completion used. Numbers must be JSON numbers. */
export class RecordUsageDto {
  /**
   * The model that ran.
   * @example "cogvlm-chat-17b"
   */
  @Length(1, 200)
  @IsString()
  model: string;

  /** @example 100 */
  @Min(0)
  @Max(MAX_TOKENS)
  @IsInt()
  input_tokens: number;

  /** @example 80 */
  @Min(0)
  @Max(MAX_TOKENS)
  @IsInt()
  output_tokens: number;

  /** @example 200 */
  @IsOptional()
  @Min(0)
  @Max(MAX_MAX_TOKENS)
  @IsInt()
  max_tokens?: number;

  /** @example 0.7 */
  @IsOptional()
  @Min(0)
  @Max(2)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  temperature?: number;

  /** @example 0.9 */
  @IsOptional()
  @Min(0)
  @Max(1)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  top_p?: number;

  /**
   * The caller's own figure, kept for audit only; billing uses the server's price table.
   * @example 0.5
   */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  input_cost?: number;

  /** @example 0.3 */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  output_cost?: number;

  /** @example 0.8 */
  @IsOptional()
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  total_cost?: number;

  @IsOptional()
  @IsBoolean()
  echo?: boolean;

  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  /**
   * The conversation, any JSON. Stored with the event up to `MESSAGES_MAX_BYTES` of JSON;
   * above that only its size is kept, and the usage is still recorded.
   */
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
  reservation_id?: string;

  /**
   * Idempotency key, scoped to the API key (also accepted as the `Idempotency-Key` header).
   * @example "req-5f1c2e"
   */
  @IsOptional()
  @Length(1, 255)
  @IsString()
  request_id?: string;
}
