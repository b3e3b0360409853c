import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { hashSecret } from '../common/crypto.js';
import { InvalidJsonBody } from '../common/json-body.js';
import { validateDto } from '../common/validation.js';
import { isUuid } from '../common/uuid.js';
import { runGuardChecks, type GuardRequest } from './guard-checks.js';
import { GuardLookupService } from './guard-lookup.service.js';
import { GUARD_BODY, GUARD_MODE, type GuardMode, type GuardPrincipal } from './guard-principal.js';
import { SlidingWindowRateLimiter } from './rate-limiter.js';
import { isWellFormedApiKey, parseAuthorization } from './secrets.js';

export interface GuardedRequest extends FastifyRequest {
  principal?: GuardPrincipal;
  guardedBody?: object;
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
  constructor(
    private readonly reflector: Reflector,
    private readonly rateLimiter: SlidingWindowRateLimiter,
    private readonly lookup: GuardLookupService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const mode = this.reflector.get<GuardMode>(GUARD_MODE, context.getHandler());
    const bodyType = this.reflector.get<(new () => object) | undefined>(
      GUARD_BODY,
      context.getHandler(),
    );
    const request = context.switchToHttp().getRequest<GuardedRequest>();

    const apiKey = parseAuthorization(header(request, 'authorization'));
    const guardRequest: GuardRequest = {
      mode,
      secretKey: header(request, 'secretkey'),
      apiKey,
      apiKeyWellFormed: apiKey !== undefined && isWellFormedApiKey(apiKey),
      organization: header(request, 'swarms-organization'),
      model: undefined,
      bodyErrors: null,
    };

    if (bodyType) {
      const result = validateDto(bodyType, request.body);
      guardRequest.bodyErrors = result.errors;
      if (result.value) request.guardedBody = result.value;
    }
    guardRequest.model = modelOf(request.body);

    const row = guardRequest.secretKey
      ? await this.lookup.lookup({
          secretHash: hashSecret(guardRequest.secretKey),
          apiKeyHash: guardRequest.apiKeyWellFormed && apiKey ? hashSecret(apiKey) : null,
          organizationPublicId:
            guardRequest.organization && isUuid(guardRequest.organization)
              ? guardRequest.organization
              : null,
          model: guardRequest.model ?? null,
        })
      : null;

    const principal = runGuardChecks(guardRequest, row, (apiKeyId, rpmLimit) =>
      this.rateLimiter.hit(apiKeyId, rpmLimit ?? this.config.defaultRpmLimit),
    );
    request.principal = principal;
    return true;
  }
}

function modelOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || body instanceof InvalidJsonBody)
    return undefined;
  const model = (body as { model?: unknown }).model;
  return typeof model === 'string' && model.trim() !== '' ? model : undefined;
}
