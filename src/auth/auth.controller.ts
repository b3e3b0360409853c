import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { ApiKeyAuth, Principal, ReservationFields } from './api-key-auth.decorator.js';
import { ReservationsService, type ReservationRequest } from './reservations.service.js';
import { AuthRequestDto } from './dto/auth-request.dto.js';
import { AuthResponseDto } from './dto/auth-response.dto.js';
import type { GuardPrincipal } from './guard-principal.js';
import { LastUsedRecorder } from './last-used.recorder.js';
import { SEED_AUTH_BODY } from './seed-examples.js';

@ApiTags('guard')
@Controller('guard')
export class AuthController {
  constructor(
    private readonly lastUsed: LastUsedRecorder,
    private readonly reservations: ReservationsService,
  ) {}

  @Post('auth')
  @HttpCode(200)
  @ApiKeyAuth('auth', AuthRequestDto, SEED_AUTH_BODY)
  @ApiOperation({
    summary: 'May this API key run this model, and who pays?',
    description:
      'Called by a model server before each completion. Runs the check table in order; the first failing check answers.',
  })
  @ApiOkResponse({ type: AuthResponseDto })
  @ApiResponse({
    status: 402,
    description: 'Out of credit, or the key is over its spend cap',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 429,
    description: 'Rate limited; see Retry-After',
    type: ErrorResponseDto,
  })
  async authenticate(
    @Principal() principal: GuardPrincipal,
    @ReservationFields() reservationRequest: ReservationRequest | undefined,
  ): Promise<AuthResponseDto> {
    const reservation = reservationRequest
      ? await this.reservations.reserve(principal, reservationRequest)
      : undefined;
    await this.lastUsed.recordUse(principal);
    return {
      status: 200,
      message: 'Success',
      api_key_id: principal.apiKeyId,
      user_id: principal.userId,
      organization_id: principal.organization?.publicId ?? null,
      model: principal.model.uniqueName,
      credit: principal.credit!,
      ...(reservation ? { reservation } : {}),
    };
  }
}
