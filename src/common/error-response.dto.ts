/** One invalid field of a request. */
export class FieldErrorDto {
  /** Path of the field in the body, e.g. `input_tokens`. */
  field: string;
  message: string;
}

/** The body of every 4xx and 5xx answer. */
export class ErrorResponseDto {
  /** The HTTP status, repeated. */
  status: number;
  /** Human-readable text. */
  message: string;
  /** Stable snake_case identifier to switch on, e.g. `invalid_api_key`. */
  code: string;
  /** Same as the `X-Request-Id` response header. */
  request_id: string;
  /** Present on `validation_failed`: one entry per invalid field. */
  errors?: FieldErrorDto[];
}
