import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashSecretHex } from '../common/crypto.js';
import { InvalidJsonBody } from '../common/json-body.js';
import { DomainError, ERRORS, type FieldError } from '../common/error-codes.js';
import type { LoggedRequest } from '../common/request-log.js';
import { isStorableText, validateDto } from '../common/validation.js';
import { isUuid } from '../common/uuid.js';
import {
  EMPTY_ROW,
  runGuardChecks,
  runStandingChecks,
  type GuardLookupRow,
  type GuardRequest,
} from './guard-checks.js';
import { FailedAuthThrottle } from './failed-auth-throttle.js';
import { GuardLookupService } from './guard-lookup.service.js';
import {
  GUARD_BODY,
  GUARD_MODE,
  type GuardMode,
  type GuardPrincipal,
  type ReservationRequest,
} from './guard-principal.js';
import { isPossibleLegacyKey, isWellFormedApiKey, parseAuthorization } from './secrets.js';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { LimitsService, type LimitVerdict } from '../limits/limits.service.js';

const MAX_MODEL_NAME = 200;

export interface GuardedRequest extends LoggedRequest {
  principal?: GuardPrincipal;
  guardedBody?: object;
  /** Auth with `max_tokens`: what to reserve. */
  reservation?: ReservationRequest;
  /** Auth: what the limits counted for the call. */
  limits?: LimitVerdict;
}

interface GuardRoute {
  mode: GuardMode;
  /** The DTO a log-usage body is validated as; none on auth. */
  bodyType: (new () => object) | undefined;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/**
 * Resolves `SecretKey`, `Authorization` and `Swarms-Organization` against Postgres, in the
 * order of the contract's check table, and puts a {@link GuardPrincipal} on the request.
 * Log-usage bodies are validated here too, because their errors rank between the SecretKey
 * and API-key checks.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** Each route's mode and body type, read from its metadata once. */
  private readonly routes = new WeakMap<object, GuardRoute>();

  constructor(
    private readonly reflector: Reflector,
    private readonly limits: LimitsService,
    private readonly lookup: GuardLookupService,
    private readonly cache: AuthCache,
    private readonly throttle: FailedAuthThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    try {
      request.principal = await this.resolve(context, request);
      request.guardDecision = 'ok';
      return true;
    } catch (error) {
      // The exception filter refines this to the code it answers with.
      request.guardDecision = error instanceof DomainError ? error.code : 'error';
      throw error;
    }
  }

  private async resolve(
    context: ExecutionContext,
    request: GuardedRequest,
  ): Promise<GuardPrincipal> {
    const { mode, bodyType } = this.route(context);

    const apiKey = parseAuthorization(header(request, 'authorization'));
    const secretKey = header(request, 'secretkey');
    // A key that passes its checksum needs no await (the common case, on every call).
    const apiKeyHash =
      apiKey !== undefined && (isWellFormedApiKey(apiKey) || (await this.mayBeLegacyKey(apiKey)))
        ? hashSecretHex(apiKey)
        : null;
    const guardRequest: GuardRequest = {
      mode,
      secretKey,
      apiKey,
      apiKeyWellFormed: apiKeyHash !== null,
      organization: header(request, 'swarms-organization'),
      model: modelOf(request.body),
      bodyErrors: null,
      reserves: false,
    };

    let requestId: string | undefined;
    if (bodyType) {
      const result = validateDto(bodyType, request.body);
      guardRequest.bodyErrors = result.errors;
      if (result.value) request.guardedBody = result.value;
    } else if (mode === 'auth') {
      const reservation = reservationFields(request.body);
      guardRequest.bodyErrors = reservation.errors;
      if (reservation.value) request.reservation = reservation.value;
      guardRequest.reserves = reservation.value !== null;
      requestId = reservation.requestId;
    }

    const secretHash = secretKey ? hashSecretHex(secretKey) : null;
    // The calling service, when its secret is cached: failures count against it too.
    const knownService = secretHash ? this.lookup.peekServiceClient(secretHash) : undefined;
    // A key known to be good is never held up by others' failures from the same source.
    if (!(apiKeyHash && this.lookup.peekUsableKey(apiKeyHash))) {
      const wait = this.throttle.refusal(this.throttle.sources(request.ip, knownService));
      if (wait !== null) {
        throw new DomainError('auth_throttled', undefined, { retryAfterSeconds: wait });
      }
    }

    let row: GuardLookupRow | null = null;
    try {
      if (secretHash) {
        // A malformed key is refused without asking Postgres; only the SecretKey decides
        // which 401 answers, and a cached answer serves for that even while Postgres is down.
        row =
          apiKey !== undefined && !apiKeyHash && knownService !== undefined
            ? { ...EMPTY_ROW, service_client_id: knownService }
            : await this.lookup.lookup({
                secretHash,
                apiKeyHash,
                organizationPublicId:
                  guardRequest.organization && isUuid(guardRequest.organization)
                    ? guardRequest.organization
                    : null,
                // A name no model can have is simply not found: no lookup, nothing cached.
                model:
                  guardRequest.model &&
                  guardRequest.model.length <= MAX_MODEL_NAME &&
                  isStorableText(guardRequest.model)
                    ? guardRequest.model
                    : null,
                // A reservation checks the standing itself, on the locked rows.
                standing: mode === 'auth' && !request.reservation,
              });
      }
      const principal = runGuardChecks(guardRequest, row);
      if (mode === 'auth') {
        const reservation = request.reservation;
        const verdict = await this.limits.acquire(principal.limits, {
          reservedTokens: reservation ? reservation.maxTokens + (reservation.inputTokens ?? 0) : 0,
          requestId,
        });
        const reply = context.switchToHttp().getResponse<FastifyReply>();
        for (const [name, value] of Object.entries(verdict.headers)) void reply.header(name, value);
        if (!verdict.allowed) {
          throw new DomainError('rate_limited', undefined, {
            retryAfterSeconds: verdict.retryAfterSeconds,
          });
        }
        request.limits = verdict;
        try {
          return runStandingChecks(guardRequest, row!, principal);
        } catch (error) {
          await this.limits.cancel(principal.limits, verdict);
          throw error;
        }
      }
      return runStandingChecks(guardRequest, row!, principal);
    } catch (error) {
      if (error instanceof DomainError && ERRORS[error.code].status === 401) {
        this.throttle.fail(
          this.throttle.sources(request.ip, row?.service_client_id ?? knownService),
        );
      }
      throw error;
    }
  }

  private route(context: ExecutionContext): GuardRoute {
    const handler = context.getHandler();
    let route = this.routes.get(handler);
    if (!route) {
      route = {
        mode: this.reflector.get<GuardMode>(GUARD_MODE, handler),
        bodyType: this.reflector.get<(new () => object) | undefined>(GUARD_BODY, handler),
      };
      this.routes.set(handler, route);
    }
    return route;
  }

  /**
   * Whether a key that fails the checksum is still worth a lookup: it could be a legacy key
   * imported from the old platform (no checksum) and such keys exist.
   */
  private async mayBeLegacyKey(key: string): Promise<boolean> {
    return isPossibleLegacyKey(key) && (await this.cache.hasLegacyKeys());
  }
}

/**
 * The optional reservation fields of an auth body (`max_tokens`, `input_tokens`,
 * `request_id`); every other field of it is ignored. `null` means absent, as OpenAI-style
 * callers send it for a field they leave unset.
 */
function reservationFields(body: unknown): {
  value: ReservationRequest | null;
  errors: FieldError[] | null;
  /** The call's `request_id`, with or without `max_tokens`: it names its concurrency lease. */
  requestId?: string;
} {
  if (
    body === null ||
    typeof body !== 'object' ||
    body instanceof InvalidJsonBody ||
    Array.isArray(body)
  ) {
    return { value: null, errors: null };
  }
  const fields = body as Record<string, unknown>;
  const maxTokens = fields.max_tokens ?? undefined;
  const inputTokens = fields.input_tokens ?? undefined;
  const requestId = fields.request_id ?? undefined;
  const errors: FieldError[] = [];
  const isCount = (value: unknown, max: number) =>
    Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max;
  if (maxTokens !== undefined && !isCount(maxTokens, 2_147_483_647)) {
    errors.push({ field: 'max_tokens', message: 'must be an integer from 0 to 2147483647' });
  }
  if (inputTokens !== undefined && !isCount(inputTokens, 1_000_000_000)) {
    errors.push({ field: 'input_tokens', message: 'must be an integer from 0 to 1000000000' });
  }
  if (
    requestId !== undefined &&
    !(
      typeof requestId === 'string' &&
      requestId.length >= 1 &&
      requestId.length <= 255 &&
      isStorableText(requestId)
    )
  ) {
    errors.push({ field: 'request_id', message: 'must be a string of 1 to 255 characters' });
  }
  if (errors.length > 0) return { value: null, errors };
  const id = requestId as string | undefined;
  if (maxTokens === undefined) return { value: null, errors: null, requestId: id };
  return {
    value: {
      maxTokens: maxTokens as number,
      inputTokens: inputTokens as number | undefined,
      requestId: id,
    },
    errors: null,
    requestId: id,
  };
}

function modelOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || body instanceof InvalidJsonBody)
    return undefined;
  const model = (body as { model?: unknown }).model;
  return typeof model === 'string' && model.trim() !== '' ? model : undefined;
}
