import { applyDecorators } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiProperty,
  ApiResponse,
  DECORATORS,
  getSchemaPath,
  type ApiPropertyOptions,
  type ApiResponseOptions,
} from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto.js';

// OpenAPI descriptions of what the service really answers, written once: the error answers of
// each kind of route (guard, admin), and the JSON types of money, counts and any-JSON fields.
// Every error answer is the contract's error body (ErrorResponseDto).

type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

interface ErrorAnswer {
  description: string;
  /** `Retry-After` is sent with every such answer (`always`) or with some of them. */
  retryAfter?: 'always' | 'sometimes';
  /** Other headers of such answers. */
  headers?: Record<string, object>;
}

export type ErrorAnswers = Partial<Record<ErrorStatus, string | ErrorAnswer>>;

const RETRY_AFTER_SECONDS = {
  description: 'Whole seconds to wait before trying again.',
  schema: { type: 'integer', minimum: 0, example: 1 },
} as const;

function errorResponse(status: ErrorStatus, answer: string | ErrorAnswer): ApiResponseOptions {
  const { description, retryAfter, headers } =
    typeof answer === 'string' ? { description: answer, retryAfter: undefined } : answer;
  return {
    status,
    description,
    type: ErrorResponseDto,
    ...(retryAfter || headers
      ? {
          headers: {
            ...headers,
            ...(retryAfter
              ? {
                  'Retry-After': {
                    ...RETRY_AFTER_SECONDS,
                    required: retryAfter === 'always',
                    ...(retryAfter === 'sometimes'
                      ? {
                          description: `${RETRY_AFTER_SECONDS.description} Sent when the database is unreachable.`,
                        }
                      : {}),
                  },
                }
              : {}),
          },
        }
      : {}),
  };
}

const DURATION_SCHEMA = { type: 'string', pattern: '^(\\d+h)?(\\d+m)?(\\d+(\\.\\d+)?s|\\d+ms)$' };

/**
 * The OpenAI-style limit headers of every auth answer (200 and 429): for requests always, for
 * tokens when a token limit applies; each for the tightest limit of its kind (key, user,
 * organization), after this call was counted.
 */
export const RATE_LIMIT_HEADERS: Record<string, object> = {
  'x-ratelimit-limit-requests': {
    description: 'Requests per minute allowed by the tightest request limit.',
    required: true,
    schema: { type: 'integer', minimum: 1, example: 60 },
  },
  'x-ratelimit-remaining-requests': {
    description: 'Requests still allowed now under that limit, after this one.',
    required: true,
    schema: { type: 'integer', minimum: 0, example: 59 },
  },
  'x-ratelimit-reset-requests': {
    description:
      'Time until that limit is whole again, as a duration (`1s`, `6m0s`, `20ms`; `0s`: whole).',
    required: true,
    schema: { ...DURATION_SCHEMA, example: '1s' },
  },
  'x-ratelimit-limit-tokens': {
    description: 'Tokens per minute allowed by the tightest token limit (when one applies).',
    required: false,
    schema: { type: 'integer', minimum: 1, example: 100000 },
  },
  'x-ratelimit-remaining-tokens': {
    description:
      'Tokens still allowed now under that limit, after what this call reserved (`max_tokens` + `input_tokens`).',
    required: false,
    schema: { type: 'integer', minimum: 0, example: 99800 },
  },
  'x-ratelimit-reset-tokens': {
    description: 'Time until that token limit is whole again, as a duration.',
    required: false,
    schema: { ...DURATION_SCHEMA, example: '120ms' },
  },
};

/**
 * Documents these answers of a route. An entry for a status replaces what a decorator applied
 * before it (written below it, like `@ApiKeyAuth`, or the Swagger plugin's guess from the return
 * type) said about that status, instead of merging into it.
 */
export function ApiResponses(...responses: ApiResponseOptions[]): MethodDecorator {
  const statuses = responses.map((response) => String(response.status));
  const replace: MethodDecorator = (_target, _key, descriptor) => {
    const previous: Record<string, unknown> | undefined = Reflect.getMetadata(
      DECORATORS.API_RESPONSE,
      descriptor.value as object,
    );
    if (previous) {
      const kept = Object.fromEntries(
        Object.entries(previous).filter(([status]) => !statuses.includes(status)),
      );
      Reflect.defineMetadata(DECORATORS.API_RESPONSE, kept, descriptor.value as object);
    }
    return descriptor;
  };
  return applyDecorators(
    replace,
    ...responses.map((response) => ApiResponse(response)),
  ) as MethodDecorator;
}

/** Documents these error answers of a route, each with the contract's error body. */
export function ApiErrorResponses(answers: ErrorAnswers): MethodDecorator {
  return ApiResponses(
    ...Object.entries(answers).map(([status, answer]) =>
      errorResponse(Number(status) as ErrorStatus, answer!),
    ),
  );
}

/**
 * A 200 that is JSON (`type`) or, with `Accept: text/csv`, CSV: one header line, then a line
 * per row, numbers exact as in the JSON, text cells that a spreadsheet would run as a formula
 * prefixed with `'`.
 */
export function ApiJsonOrCsvResponse(
  type: new () => object,
  csv: { example: string; headers?: Record<string, { description: string }> },
): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(type),
    ApiResponses({
      status: 200,
      description: 'The JSON answer, or CSV with `Accept: text/csv`.',
      content: {
        'application/json': { schema: { $ref: getSchemaPath(type) } },
        'text/csv': { schema: { type: 'string' }, example: csv.example },
      },
      ...(csv.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(csv.headers).map(([name, header]) => [
                name,
                { ...header, schema: { type: 'string' } },
              ]),
            ),
          }
        : {}),
    }),
  ) as MethodDecorator;
}

const DATABASE_DOWN: ErrorAnswer = {
  description:
    '`service_unavailable`: the database is unreachable or overloaded. Safe to retry after `Retry-After`.',
  retryAfter: 'always',
};

const PAYLOAD_TOO_LARGE =
  '`payload_too_large`: the body is larger than `BODY_LIMIT_BYTES` (2 MiB by default); nothing was done.';

const GUARD_UNAUTHORIZED =
  '`secret_key_missing` / `invalid_secret_key` (the `SecretKey` header), then `api_key_missing` / ' +
  '`invalid_api_key` / `api_key_revoked` / `api_key_expired` (the `Authorization` header; the ' +
  'last three all with the message `Invalid API Key`).';

/**
 * The answers of the two guard routes, in the contract's check order, and their security: both
 * `SecretKey` and `Authorization` (one requirement with the two schemes, not either of them).
 * Write it above `@ApiKeyAuth`, whose two separate entries it replaces.
 */
export function ApiGuardResponses(mode: 'auth' | 'usage'): MethodDecorator {
  const security: MethodDecorator = (_target, _key, descriptor) => {
    Reflect.defineMetadata(
      DECORATORS.API_SECURITY,
      [{ SecretKey: [], ApiKey: [] }],
      descriptor.value as object,
    );
    return descriptor;
  };
  const common: ErrorAnswers = {
    401: GUARD_UNAUTHORIZED,
    413: PAYLOAD_TOO_LARGE,
    415: '`unsupported_media_type`: the `Content-Type` header cannot be parsed.',
    503: DATABASE_DOWN,
  };
  const answers: ErrorAnswers =
    mode === 'auth'
      ? {
          ...common,
          400:
            '`model_missing`: the body is not a JSON object with a non-empty string `model`; ' +
            '`validation_failed` (with `errors`): `max_tokens`, `input_tokens` or `request_id` is ' +
            'not what the schema says; `invalid_organization_id`: `Swarms-Organization` is not a UUID.',
          402:
            '`insufficient_credits`: the prepaid payer has no credit left (or not enough for the ' +
            'reservation); `api_key_limit_exceeded`: the key is at its spend cap.',
          403:
            "`not_organization_member` / `organization_spend_not_allowed`: the key's user may not bill " +
            "the organization; `model_not_allowed`: the model is not on the key's allow-list; " +
            '`billing_limit_exceeded`: the invoice payer is at its monthly limit; ' +
            '`organization_budget_exceeded`: the organization is at its monthly budget.',
          404: '`organization_not_found` / `model_not_found` (unknown or disabled model).',
          409: '`conflict`: an open reservation already has this `request_id`.',
          429: {
            description:
              '`rate_limited`: a limit has no room for this call: requests or tokens per minute of ' +
              "the key, its user or the organization billed, or the key's calls in flight " +
              '(the `x-ratelimit-*` headers report the tightest request and token limits; nothing ' +
              'was counted). `auth_throttled`: the caller is throttled after repeated failed ' +
              'authentications (without `x-ratelimit-*`). Retry after `Retry-After` seconds.',
            retryAfter: 'always',
            headers: Object.fromEntries(
              Object.entries(RATE_LIMIT_HEADERS).map(([name, header]) => [
                name,
                { ...header, required: false },
              ]),
            ),
          },
          503: {
            description:
              `${DATABASE_DOWN.description} Also when Redis, which holds the limits, is ` +
              'unreachable and `LIMITS_REDIS_FAILURE=fail-closed`.',
            retryAfter: 'always',
          },
        }
      : {
          ...common,
          400:
            '`validation_failed` (with `errors`, one per field): a field is missing, of the wrong JSON ' +
            'type (`"12"` is not a number), out of range or not declared, or the body is not a JSON ' +
            'object, or the `Idempotency-Key` header is empty, too long or differs from `request_id`; ' +
            '`model_missing`; `invalid_organization_id`.',
          403:
            '`not_organization_member` / `organization_spend_not_allowed` / `model_not_allowed`. ' +
            'Never for credit: usage that happened is recorded and charged.',
          404: '`organization_not_found` / `model_not_found`.',
          409:
            '`idempotency_in_flight`: a call with the same `request_id` is still being written ' +
            '(after 5 s of waiting for it).',
          422: '`idempotency_key_reused`: this `request_id` was used before with another body.',
          429: {
            description:
              'The caller is throttled after repeated failed authentications. Never for the rate ' +
              'of usage itself: usage that happened is recorded.',
            retryAfter: 'always',
          },
        };
  return applyDecorators(security, ApiErrorResponses(answers)) as MethodDecorator;
}

export interface AdminInput {
  /** The route reads a JSON body (`json`), or takes none but a body may be sent (`ignored`). */
  body?: 'json' | 'ignored';
  /** The route reads query parameters. */
  query?: boolean;
  /** The route has path parameters: UUIDs (`uuid`) or a model name (`name`). */
  path?: 'uuid' | 'name';
  /** What answers 404. */
  notFound?: string;
  /** What answers 409. */
  conflict?: string;
}

/** The answers of an admin route, from what it takes: write it on each admin handler. */
export function ApiAdminResponses(input: AdminInput = {}): MethodDecorator {
  const answers: ErrorAnswers = {
    401: '`admin_unauthorized`: `Authorization: Bearer <ADMIN_TOKEN>` is missing or wrong.',
    503: {
      description:
        '`admin_disabled`: `ADMIN_TOKEN` is not set (no `Retry-After`); `service_unavailable`: ' +
        'the database is unreachable (with `Retry-After`).',
      retryAfter: 'sometimes',
    },
  };
  const invalid: string[] = [];
  if (input.body === 'json') invalid.push('the body');
  if (input.query) invalid.push('a query parameter');
  if (input.path === 'name') invalid.push('`unique_name`');
  const bad: string[] = [];
  if (invalid.length > 0) {
    bad.push(
      `\`validation_failed\` (with \`errors\`, one per field): ${invalid.join(' or ')} is missing, ` +
        'of the wrong type, out of range or not declared' +
        (input.body === 'json' ? ', or the body is not a JSON object' : ''),
    );
  }
  if (input.path || input.body === 'json' || input.query) {
    bad.push('`bad_request`: the request cannot be read (a malformed URL, say)');
  }
  if (bad.length > 0) answers[400] = `${bad.join('; ')}.`;
  if (input.notFound) {
    answers[404] =
      input.path === 'uuid'
        ? `\`not_found\`: ${input.notFound} (an id that is not a UUID names nothing, and answers 404 too).`
        : `\`not_found\`: ${input.notFound}.`;
  }
  if (input.conflict) answers[409] = `\`conflict\`: ${input.conflict}.`;
  if (input.body) {
    answers[413] = PAYLOAD_TOO_LARGE;
    answers[415] =
      input.body === 'json'
        ? '`unsupported_media_type`: the body is not `application/json`.'
        : '`unsupported_media_type`: the `Content-Type` header cannot be parsed.';
  }
  return ApiErrorResponses(answers);
}

type PropertyOptions = Omit<ApiPropertyOptions, 'type' | 'format'>;

/**
 * An amount of USD as the service writes it: a JSON number with every digit Postgres `numeric`
 * holds (never rounded through a float). Read it with a decimal-aware JSON parser to keep it exact.
 */
export const ApiMoney = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({ ...options, type: 'number', format: 'decimal' } as ApiPropertyOptions);

/**
 * Any JSON value (`messages`): a schema without `type`. Written as `anyOf: [{}]`, the one way
 * `@nestjs/swagger` leaves `type` out; the document drops the `anyOf`, which changes nothing.
 */
export const ApiAnyJson = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({ ...options, anyOf: [{}] } as ApiPropertyOptions);

/** A whole number: tokens, counts, limits, seconds, page sizes. */
export const ApiInteger = (
  options: PropertyOptions & { format?: 'int32' | 'int64' } = {},
): PropertyDecorator => ApiProperty({ ...options, type: 'integer' } as ApiPropertyOptions);

/** An RFC 3339 date-time, e.g. `2027-01-01T00:00:00Z`. */
export const ApiDateTime = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({ ...options, type: 'string', format: 'date-time' } as ApiPropertyOptions);
