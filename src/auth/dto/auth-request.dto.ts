import { ApiProperty } from '@nestjs/swagger';
import { ApiAnyJson, ApiInteger } from '../../common/openapi.js';
import { SEED_AUTH_BODY } from '../seed-examples.js';

/**
 * Body of `POST /api/guard/auth`. Fields other than these are accepted and ignored (callers
 * forward whole completion requests); `null` for an optional field means absent.
 */
export class AuthRequestDto {
  /**
   * The model the caller is about to run.
   * @example "cogvlm-chat-17b"
   */
  @ApiProperty({ minLength: 1 })
  model: string;

  /** The conversation, optional and any JSON (usually the array of chat messages); not stored. */
  @ApiAnyJson({ example: SEED_AUTH_BODY.messages })
  messages?: unknown;

  /**
   * With it, auth reserves the largest cost the call can have (`input_tokens` × input price +
   * `max_tokens` × output price) against the payer's credit, the key's cap and the
   * organization's budget, atomically; the matching log-usage settles it.
   */
  @ApiInteger({ minimum: 0, maximum: 2_147_483_647, example: 256 })
  max_tokens?: number | null;

  /** Input tokens of the call, when known (else only the output is reserved). */
  @ApiInteger({ minimum: 0, maximum: 1_000_000_000, example: 120 })
  input_tokens?: number | null;

  /** Ties the reservation to the log-usage call with the same `request_id`. */
  @ApiProperty({ minLength: 1, maxLength: 255 })
  request_id?: string | null;
}
