import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { ApiAdminResponses } from '../common/openapi.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { CreateServiceClientDto } from './dto/create-service-client.dto.js';
import { RotateSecretDto } from './dto/rotate-secret.dto.js';
import {
  CreatedServiceClientResponseDto,
  ServiceClientResponseDto,
} from './dto/service-client-response.dto.js';
import { ServiceClientsService } from './service-clients.service.js';

const clientId = new UuidParamPipe('Service client');

@ApiTags('admin: service clients')
@AdminOnly()
@Controller('admin/service-clients')
export class ServiceClientsController {
  constructor(private readonly clients: ServiceClientsService) {}

  /** Registers a calling service. The answer holds its `SecretKey`: the only time it is shown. */
  @Post()
  @ApiAdminResponses({ body: 'json' })
  create(
    @Actor() actor: AdminActor,
    @Body() dto: CreateServiceClientDto,
  ): Promise<CreatedServiceClientResponseDto> {
    return this.clients.create(actor, dto);
  }

  /** All service clients, revoked ones included, without secrets. */
  @Get()
  @ApiAdminResponses()
  list(): Promise<ServiceClientResponseDto[]> {
    return this.clients.list();
  }

  /** An active service client. */
  @Get(':id')
  @ApiAdminResponses({ path: 'uuid', notFound: 'no such service client, or it is revoked' })
  get(@Param('id', clientId) id: string): Promise<ServiceClientResponseDto> {
    return this.clients.get(id);
  }

  /** A new secret; the current one keeps working for `grace_seconds`, then is refused. */
  @Post(':id/rotate')
  @HttpCode(200)
  @ApiAdminResponses({
    body: 'json',
    path: 'uuid',
    notFound: 'no such service client, or it is revoked',
  })
  rotate(
    @Actor() actor: AdminActor,
    @Param('id', clientId) id: string,
    @Body() dto: RotateSecretDto,
  ): Promise<CreatedServiceClientResponseDto> {
    return this.clients.rotate(actor, id, dto);
  }

  /** Revokes the client and all its secrets, on every instance within a second. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked.' })
  @ApiAdminResponses({
    body: 'ignored',
    path: 'uuid',
    notFound: 'no such service client, or it is already revoked',
  })
  async revoke(@Actor() actor: AdminActor, @Param('id', clientId) id: string): Promise<void> {
    await this.clients.revoke(actor, id);
  }
}
