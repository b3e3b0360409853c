import { ApiProperty } from '@nestjs/swagger';

/** One invalid field of a request. */
export class FieldErrorDto {
  /** Path of the field in the body (or the query, or the header), e.g. `input_tokens`. @example "input_tokens" */
  field: string;
  /** @example "input_tokens must be an integer number" */
  message: string;
}

/** The body of every 4xx and 5xx answer. */
export class ErrorResponseDto {
  /** The HTTP status, repeated. */
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 401 })
  status: number;
  /** Human-readable text. @example "Invalid API Key" */
  message: string;
  /** Stable snake_case identifier to switch on. @example "invalid_api_key" */
  code: string;
  /** Same as the `X-Request-Id` response header. @example "6f1c2e9a-3b7d-4c1e-9a55-0d2f6b8e4a10" */
  request_id: string;
  /** Present on `validation_failed`: one entry per invalid field. */
  errors?: FieldErrorDto[];
}
