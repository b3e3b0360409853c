import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../common/access.js';
import { toCsv } from '../common/csv.js';
import { ApiAdminResponses, ApiJsonOrCsvResponse } from '../common/openapi.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { UsageEventPageDto } from './dto/usage-event-response.dto.js';
import { UsageReportResponseDto } from './dto/usage-report-response.dto.js';
import { UsageEventsQueryDto, UsageReportQueryDto } from './dto/usage-report.query.dto.js';
import { UserSpendResponseDto } from './dto/user-spend-response.dto.js';
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
  @ApiAdminResponses({ query: true })
  @ApiJsonOrCsvResponse(UsageReportResponseDto, {
    example:
      'start,model,requests,input_tokens,output_tokens,cost\r\n' +
      '2026-11-30T00:00:00Z,cogvlm-chat-17b,1,100,80,0.00009\r\n',
  })
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
  @ApiAdminResponses({ query: true })
  @ApiJsonOrCsvResponse(UsageEventPageDto, {
    example:
      'id,created_at,api_key_id,user_id,payer_user_id,organization_id,service_client_id,model,' +
      'input_tokens,output_tokens,price_million_input,price_million_output,input_cost,' +
      'output_cost,total_cost,client_total_cost,request_id,messages_bytes\r\n' +
      'bc98556a-359c-4d29-94af-ebea25b1a0f5,2026-12-02T01:54:54.172Z,' +
      'c91ec053-02a5-45f6-8420-476330880a93,8725d8f3-5b24-4533-817a-9bf8c7f6a5ab,' +
      '8725d8f3-5b24-4533-817a-9bf8c7f6a5ab,,ff8c76bc-2f9e-43bd-ba2a-144c989f876b,' +
      'cogvlm-chat-17b,100,80,0.5,0.5,0.00005,0.00004,0.00009,0.8,,32\r\n',
    headers: {
      'X-Next-Cursor': {
        description: 'CSV only: the `next_cursor` of the page, when there is a next page.',
      },
    },
  })
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
  @ApiAdminResponses({ path: 'uuid', notFound: 'no such user' })
  @ApiOkResponse({ type: UserSpendResponseDto })
  spend(@Param('id', new UuidParamPipe('User')) id: string): Promise<object> {
    return this.reports.spend(id);
  }
}
