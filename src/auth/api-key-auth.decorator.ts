import {
  applyDecorators,
  createParamDecorator,
  SetMetadata,
  UseGuards,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiBody, ApiHeader, ApiResponse, ApiSecurity } from '@nestjs/swagger';
import { ACCESS, type Access } from '../common/access.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import type { GuardedRequest } from './api-key.guard.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { GUARD_BODY, GUARD_MODE, type GuardMode } from './guard-principal.js';

/**
 * A guard route: `SecretKey` + `Authorization` (+ optional `Swarms-Organization`) resolved by
 * {@link ApiKeyGuard}. For log-usage the guard validates the body against `body` at the
 * contract's point in the check order; read it back with `@GuardedBody()`.
 */
export function ApiKeyAuth(mode: GuardMode, body: new () => object, example: object) {
  return applyDecorators(
    SetMetadata(ACCESS, 'api-key' satisfies Access),
    SetMetadata(GUARD_MODE, mode),
    // Auth reads only `model` (check 5); log-usage validates its whole body.
    SetMetadata(GUARD_BODY, mode === 'usage' ? body : undefined),
    UseGuards(ApiKeyGuard),
    ApiSecurity('SecretKey'),
    ApiSecurity('ApiKey'),
    ApiHeader({
      name: 'Swarms-Organization',
      required: false,
      description: "Organization to bill (its public_id). The organization's owner pays.",
      schema: { type: 'string', format: 'uuid' },
    }),
    ApiBody({ type: body, examples: { 'original document': { value: example } } }),
    ApiResponse({ status: 400, description: 'Bad request', type: ErrorResponseDto }),
    ApiResponse({
      status: 401,
      description: 'Missing or invalid credentials',
      type: ErrorResponseDto,
    }),
    ApiResponse({ status: 403, description: 'Not allowed', type: ErrorResponseDto }),
    ApiResponse({
      status: 404,
      description: 'Unknown organization or model',
      type: ErrorResponseDto,
    }),
  );
}

/** The caller resolved by {@link ApiKeyGuard}. */
export const Principal = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<GuardedRequest>().principal,
);

/** What `/auth` is asked to reserve (its `max_tokens`), as read by {@link ApiKeyGuard}. */
export const ReservationFields = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<GuardedRequest>().reservation,
);

/** The body as validated by {@link ApiKeyGuard}. */
export const GuardedBody = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<GuardedRequest>().guardedBody,
);
