import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../common/access.js';
import { toCsv } from '../common/csv.js';
import { ApiAdminResponses, ApiJsonOrCsvResponse } from '../common/openapi.js';
import { DecisionsQueryDto } from './dto/decisions-query.dto.js';
import { DecisionsResponseDto } from './dto/decisions-response.dto.js';
import { DecisionsService } from './decisions.service.js';

const wantsCsv = (accept: string | undefined) => /\btext\/csv\b/i.test(accept ?? '');
const CSV_COLUMNS = ['start', 'route', 'status', 'decision', 'count'];

@ApiTags('admin: decisions')
@AdminOnly()
@Controller('admin')
export class DecisionsController {
  constructor(private readonly decisions: DecisionsService) {}

  /**
   * Guard calls answered, per bucket (`hour`, default, at most 31 days; or `day`, at most 400
   * days; UTC), route, HTTP status and decision (`ok` for granted calls, else the error code).
   * Each instance writes its counts every `DECISION_FLUSH_MS` (5 s by default), so the latest
   * calls may not be counted yet. `Accept: text/csv` answers CSV.
   */
  @Get('decisions')
  @ApiAdminResponses({ query: true })
  @ApiJsonOrCsvResponse(DecisionsResponseDto, {
    example:
      'start,route,status,decision,count\r\n' +
      '2026-12-02T04:00:00Z,/api/guard/auth,200,ok,41\r\n' +
      '2026-12-02T04:00:00Z,/api/guard/auth,402,insufficient_credits,3\r\n',
  })
  async list(
    @Query() query: DecisionsQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object | string> {
    const report = await this.decisions.report(query);
    if (!wantsCsv(accept)) return report;
    void reply.type('text/csv; charset=utf-8');
    return toCsv(CSV_COLUMNS, report.buckets as unknown as Record<string, unknown>[]);
  }
}
