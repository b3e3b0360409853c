import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/access.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { CreateServiceClientDto } from './dto/create-service-client.dto.js';
import {
  CreatedServiceClientResponseDto,
  ServiceClientResponseDto,
} from './dto/service-client-response.dto.js';
import { ServiceClientsService } from './service-clients.service.js';

@ApiTags('admin: service clients')
@AdminOnly()
@Controller('admin/service-clients')
export class ServiceClientsController {
  constructor(private readonly clients: ServiceClientsService) {}

  /** Registers a calling service. The answer holds its `SecretKey`: the only time it is shown. */
  @Post()
  create(@Body() dto: CreateServiceClientDto): Promise<CreatedServiceClientResponseDto> {
    return this.clients.create(dto);
  }

  /** All service clients, revoked ones included, without secrets. */
  @Get()
  list(): Promise<ServiceClientResponseDto[]> {
    return this.clients.list();
  }

  /** Revokes the client's secret, effective on the next request. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async revoke(@Param('id', new UuidParamPipe('Service client')) id: string): Promise<void> {
    await this.clients.revoke(id);
  }
}
