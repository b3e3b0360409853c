import { Controller, Get, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/access.js';
import { ApiAdminResponses } from '../common/openapi.js';
import { AuditService } from './audit.service.js';
import { AuditPageDto } from './dto/audit-entry-response.dto.js';
import { ListAuditQueryDto } from './dto/list-audit.query.dto.js';

@ApiTags('admin: audit')
@AdminOnly()
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Every admin change, newest first, with filters; page with `next_cursor`. */
  @Get()
  @ApiAdminResponses({ query: true })
  list(@Query() query: ListAuditQueryDto): Promise<AuditPageDto> {
    return this.audit.list(query);
  }
}
