import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiGuardResponses, RATE_LIMIT_HEADERS } from '../common/openapi.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { LimitsService } from '../limits/limits.service.js';
import type { GuardedRequest } from './api-key.guard.js';
import { ApiKeyAuth, Principal, ReservationFields } from './api-key-auth.decorator.js';
import { AuthRequestDto } from './dto/auth-request.dto.js';
import { AuthResponseDto } from './dto/auth-response.dto.js';
import type { GuardPrincipal, ReservationRequest } from './guard-principal.js';
import { LastUsedRecorder } from './last-used.recorder.js';
import { SEED_AUTH_BODY } from './seed-examples.js';

@ApiTags('guard')
@Controller('guard')
export class AuthController {
  constructor(
    private readonly lastUsed: LastUsedRecorder,
    private readonly ledger: LedgerService,
    private readonly limits: LimitsService,
  ) {}

  @Post('auth')
  @HttpCode(200)
  @ApiGuardResponses('auth')
  @ApiKeyAuth('auth', AuthRequestDto, SEED_AUTH_BODY)
  @ApiOperation({
    summary: 'May this API key run this model, and who pays?',
    description:
      'Called by a model server before each completion. Runs the check table in order; the first failing check answers. ' +
      'With `max_tokens`, the largest cost the call can have is reserved against the payer, the organization budget and ' +
      'the key cap, and refused when any of them cannot cover it. The call counts one request, and ' +
      '`max_tokens` + `input_tokens` tokens, against the limits of its key, user and organization, ' +
      "and takes one of the key's concurrency slots until its log-usage (matched by `request_id`).",
  })
  @ApiOkResponse({
    type: AuthResponseDto,
    description:
      'Every check passed: the call may run, and `credit` says where the payer stands. The ' +
      '`x-ratelimit-*` headers say where the tightest limits stand after this call (forward them ' +
      'before streaming).',
    headers: RATE_LIMIT_HEADERS,
  })
  async authenticate(
    @Principal() principal: GuardPrincipal,
    @ReservationFields() reservationRequest: ReservationRequest | undefined,
    @Req() request: GuardedRequest,
  ): Promise<AuthResponseDto> {
    const reserved = reservationRequest
      ? await this.reserve(principal, reservationRequest, request)
      : undefined;
    await this.lastUsed.recordUse(principal);
    return {
      status: 200,
      message: 'Success',
      api_key_id: principal.apiKeyId,
      user_id: principal.userId,
      organization_id: principal.organization?.publicId ?? null,
      model: principal.model.uniqueName,
      credit: reserved?.credit ?? principal.credit!,
      ...(reserved ? { reservation: reserved.reservation } : {}),
    };
  }

  /** The reservation; refused, it gives back what the limits counted for the call. */
  private async reserve(
    principal: GuardPrincipal,
    reservationRequest: ReservationRequest,
    request: GuardedRequest,
  ) {
    try {
      return await this.ledger.reserve({
        api_key_id: principal.apiKeyId,
        payer_user_id: principal.payerUserId,
        organization_id: principal.organization?.id ?? null,
        model_id: principal.model.id,
        input_tokens: reservationRequest.inputTokens ?? 0,
        max_tokens: reservationRequest.maxTokens,
        request_id: reservationRequest.requestId ?? null,
      });
    } catch (error) {
      if (request.limits) await this.limits.cancel(principal.limits, request.limits);
      throw error;
    }
  }
}
