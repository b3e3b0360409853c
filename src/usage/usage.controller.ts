import { Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyAuth, GuardedBody, Principal } from '../auth/api-key-auth.decorator.js';
import type { GuardPrincipal } from '../auth/guard-principal.js';
import { LastUsedRecorder } from '../auth/last-used.recorder.js';
import { SEED_USAGE_BODY } from '../auth/seed-examples.js';
import { ValidationFailed } from '../common/error-codes.js';
import { ApiGuardResponses } from '../common/openapi.js';
import { LimitsService } from '../limits/limits.service.js';
import { RecordUsageDto } from './dto/record-usage.dto.js';
import { UsageResponseDto } from './dto/usage-response.dto.js';
import { UsageService } from './usage.service.js';

@ApiTags('guard')
@Controller('guard')
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly lastUsed: LastUsedRecorder,
    private readonly limits: LimitsService,
  ) {}

  @Post('log-usage')
  @HttpCode(201)
  @ApiGuardResponses('usage')
  @ApiKeyAuth('usage', RecordUsageDto, SEED_USAGE_BODY)
  @ApiOperation({
    summary: 'Record what a completion used, and charge the payer',
    description:
      'Called by a model server after each completion. The cost comes from the server price table; ' +
      'the payer is debited in the same transaction as the insert, even into a negative balance. ' +
      'A 201 means the row is committed. With `request_id` (or `Idempotency-Key`), a replay of the ' +
      'same body answers the first response with `Idempotent-Replayed: true` and writes nothing; ' +
      'the same id with another body is 422. A duplicate sent while the first is in flight waits ' +
      'for it (up to 5 s, then 409 `idempotency_in_flight`). The tokens count toward the token ' +
      "limits (in place of what auth reserved for the call) and the call's concurrency lease ends; " +
      'never refused for a limit.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same as `request_id` (when both are sent, they must be equal).',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  })
  @ApiCreatedResponse({
    type: UsageResponseDto,
    description:
      'Recorded and charged, committed in Postgres; or, for a `request_id` seen before with the ' +
      'same body, the first answer again.',
    headers: {
      'Idempotent-Replayed': {
        description: '`true` when this is the stored answer of an earlier call; absent otherwise.',
        required: false,
        schema: { type: 'string', enum: ['true'] },
      },
    },
  })
  async logUsage(
    @Principal() principal: GuardPrincipal,
    @GuardedBody() dto: RecordUsageDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (idempotencyKey !== undefined) {
      const key = idempotencyKey.trim();
      if (key.length < 1 || key.length > 255) {
        throw new ValidationFailed([
          { field: 'Idempotency-Key', message: 'must be between 1 and 255 characters' },
        ]);
      }
      if (dto.request_id !== undefined && dto.request_id !== null && dto.request_id !== key) {
        throw new ValidationFailed([
          {
            field: 'request_id',
            message: 'must equal the Idempotency-Key header when both are sent',
          },
        ]);
      }
      dto.request_id = key;
    }
    const recorded = await this.usage.record(principal, dto);
    await this.lastUsed.recordUse(principal);
    if (!recorded.replayed) {
      // What auth reserved, when no memo of the call says: the same fields of its body.
      const reservedFallback =
        dto.max_tokens === undefined || dto.max_tokens === null
          ? 0
          : dto.max_tokens + dto.input_tokens;
      await this.limits.release(principal.limits, {
        usedTokens: dto.input_tokens + dto.output_tokens,
        reservedFallback,
        requestId: dto.request_id ?? undefined,
      });
    }
    if (recorded.replayed) void reply.header('idempotent-replayed', 'true');
    void reply.type('application/json; charset=utf-8');
    return recorded.json;
  }
}
