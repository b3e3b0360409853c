/**
 * Every error the service answers with: a stable code, its HTTP status and the
 * human message. Services throw {@link DomainError} with a code; the exception
 * filter is the only place that turns it into HTTP.
 */
export const ERRORS = {
  secret_key_missing: { status: 401, message: 'Secret Key is missing' },
  invalid_secret_key: { status: 401, message: 'Invalid Secret Key' },
  api_key_missing: { status: 401, message: 'API Key is missing' },
  invalid_api_key: { status: 401, message: 'Invalid API Key' },
  api_key_revoked: { status: 401, message: 'Invalid API Key' },
  api_key_expired: { status: 401, message: 'Invalid API Key' },
  model_missing: { status: 400, message: 'model is missing' },
  invalid_organization_id: { status: 400, message: 'Invalid organization id' },
  organization_not_found: { status: 404, message: 'Organization not found' },
  not_organization_member: { status: 403, message: 'User is not part of the organization' },
  organization_spend_not_allowed: {
    status: 403,
    message: "The user's role in the organization may not spend through it",
  },
  model_not_found: { status: 404, message: 'Model not found' },
  model_not_allowed: { status: 403, message: 'Model not allowed for this API key' },
  rate_limited: { status: 429, message: 'Too Many Requests. Please try again later.' },
  auth_throttled: {
    status: 429,
    message: 'Too many failed authentication attempts. Please try again later.',
  },
  insufficient_credits: { status: 402, message: 'Insufficient credits' },
  billing_limit_exceeded: { status: 403, message: 'You have exceeded your billing limit' },
  api_key_limit_exceeded: { status: 402, message: 'API key spend limit exceeded' },
  organization_budget_exceeded: {
    status: 403,
    message: 'The organization has exceeded its monthly budget',
  },
  validation_failed: { status: 400, message: 'Validation failed' },
  invalid_json: { status: 400, message: 'Request body is not valid JSON' },
  bad_request: { status: 400, message: 'Bad request' },
  idempotency_key_reused: {
    status: 422,
    message: 'This idempotency key was already used with a different request body',
  },
  idempotency_in_flight: {
    status: 409,
    message: 'A request with this idempotency key is still being processed',
  },
  admin_unauthorized: { status: 401, message: 'Invalid or missing admin token' },
  unauthorized: { status: 401, message: 'Unauthorized' },
  forbidden: { status: 403, message: 'Forbidden' },
  admin_disabled: { status: 503, message: 'The admin API is disabled: ADMIN_TOKEN is not set' },
  not_found: { status: 404, message: 'Not found' },
  route_not_found: { status: 404, message: 'Route not found' },
  conflict: { status: 409, message: 'Conflict' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  payload_too_large: { status: 413, message: 'Request body is too large' },
  headers_too_large: { status: 431, message: 'Request headers are too large' },
  request_timeout: { status: 408, message: 'The request was not received in time' },
  uri_too_long: { status: 414, message: 'Request URI is too long' },
  unsupported_media_type: {
    status: 415,
    message: 'Unsupported media type: send application/json',
  },
  service_unavailable: { status: 503, message: 'Service temporarily unavailable' },
  internal_error: { status: 500, message: 'Internal server error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  field: string;
  message: string;
}

/** A failure the client can act on, identified by a stable code. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details: { errors?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}

export class ValidationFailed extends DomainError {
  constructor(errors: FieldError[]) {
    super('validation_failed', undefined, { errors });
  }
}

export class NotFound extends DomainError {
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}
