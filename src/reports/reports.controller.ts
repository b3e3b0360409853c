import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../common/access.js';
import { toCsv } from '../common/csv.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { UsageEventsQueryDto, UsageReportQueryDto } from './dto/usage-report.query.dto.js';
import { ReportsService } from './reports.service.js';

const wantsCsv = (accept: string | undefined) => /\btext\/csv\b/i.test(accept ?? '');

@ApiTags('admin: usage')
@AdminOnly()
@Controller('admin')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  /**
   * Usage per bucket (`hour`, `day`, `month`, UTC) and optional groups, with requests, input
   * and output tokens and cost, from the rollups. Day and month buckets cover whole UTC days;
   * hour buckets whole hours, 31 days at most. `Accept: text/csv` answers CSV.
   */
  @Get('usage')
  @ApiProduces('application/json', 'text/csv')
  async usage(
    @Query() query: UsageReportQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object | string> {
    const report = await this.reports.usage(query);
    if (!wantsCsv(accept)) return report;
    const groups = report.group_by.map(
      (group) =>
        ({
          model: 'model',
          api_key: 'api_key_id',
          organization: 'organization_id',
          user: 'user_id',
        })[group],
    );
    void reply.type('text/csv; charset=utf-8');
    return toCsv(
      ['start', ...groups, 'requests', 'input_tokens', 'output_tokens', 'cost'],
      report.buckets as unknown as Record<string, unknown>[],
    );
  }

  /** Usage events, oldest first, keyset-paginated; `Accept: text/csv` answers CSV. */
  @Get('usage/events')
  @ApiProduces('application/json', 'text/csv')
  async events(
    @Query() query: UsageEventsQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object | string> {
    const page = await this.reports.events(query);
    if (!wantsCsv(accept)) return page;
    if (page.next_cursor) void reply.header('x-next-cursor', page.next_cursor);
    void reply.type('text/csv; charset=utf-8');
    const columns = page.items[0] ? Object.keys(page.items[0]) : ['id'];
    return toCsv(columns, page.items);
  }

  /** A user's spend this calendar month (UTC), remaining credit, and limits. */
  @Get('users/:id/spend')
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  spend(@Param('id', new UuidParamPipe('User')) id: string): Promise<object> {
    return this.reports.spend(id);
  }
}
