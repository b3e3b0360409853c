import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthCache, type CacheState } from '../auth-cache/auth-cache.service.js';
import { Public } from '../common/access.js';
import { DomainError } from '../common/error-codes.js';
import { ApiErrorResponses } from '../common/openapi.js';
import { CURRENT_PARTITION_SQL } from '../usage/usage-partitions.service.js';

export class HealthResponseDto {
  /** @example "ok" */
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status: string;
}

export class ReadinessResponseDto extends HealthResponseDto {
  /**
   * The guard cache: `listening` (hearing invalidations, entries used), `not_listening` (its
   * channel is down or missed its heartbeats: every lookup reads Postgres, still correct but
   * slower), `off` (`AUTH_CACHE=off`). Ready in all three.
   */
  @ApiProperty({ enum: ['listening', 'not_listening', 'off'], example: 'listening' })
  cache: CacheState;
}

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cache: AuthCache,
  ) {}

  /** The process is up. */
  @Get('live')
  @HttpCode(200)
  @ApiOkResponse({ type: HealthResponseDto })
  live(): HealthResponseDto {
    return { status: 'ok' };
  }

  /**
   * Postgres answers, every migration is applied and the current month's usage partition
   * exists; 503 otherwise, and from the moment the service starts shutting down.
   */
  @Get('ready')
  @HttpCode(200)
  @ApiOkResponse({ type: ReadinessResponseDto })
  @ApiErrorResponses({
    503:
      '`service_unavailable`: the database is unreachable, a migration is pending, the ' +
      "current month's usage partition is missing, or the service is shutting down " +
      '(`message` says which).',
  })
  async ready(): Promise<ReadinessResponseDto> {
    let pending: boolean;
    let partition: { present: boolean }[];
    try {
      pending = await this.dataSource.showMigrations();
      // Before the migrations, usage_events may not exist: only asked once they are applied.
      partition = pending ? [] : await this.dataSource.query(CURRENT_PARTITION_SQL);
    } catch {
      throw new DomainError('service_unavailable', 'Database unreachable', {
        retryAfterSeconds: 1,
      });
    }
    if (pending) throw new DomainError('service_unavailable', 'Database migrations are pending');
    if (!partition[0]?.present) {
      throw new DomainError(
        'service_unavailable',
        "The current month's usage partition is missing",
      );
    }
    return { status: 'ok', cache: this.cache.state };
  }
}
