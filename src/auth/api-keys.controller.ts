import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { ApiAdminResponses } from '../common/openapi.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { ApiKeysService } from './api-keys.service.js';
import {
  ApiKeyPageDto,
  ApiKeyResponseDto,
  CreatedApiKeyResponseDto,
} from './dto/api-key-response.dto.js';
import {
  CreateApiKeyDto,
  ImportApiKeyDto,
  RotateApiKeyDto,
  UpdateApiKeyDto,
} from './dto/create-api-key.dto.js';
import { ListApiKeysQueryDto } from './dto/list-api-keys.query.dto.js';

const keyId = new UuidParamPipe('API key');

@ApiTags('admin: api keys')
@AdminOnly()
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  /** Issues a key for a user. The answer holds the key: the only time it is shown. */
  @Post()
  @ApiAdminResponses({ body: 'json', notFound: 'no such user' })
  create(
    @Actor() actor: AdminActor,
    @Body() dto: CreateApiKeyDto,
  ): Promise<CreatedApiKeyResponseDto> {
    return this.apiKeys.create(actor, dto);
  }

  /**
   * Registers a key issued by the old platform, so it keeps working. It is stored hashed and
   * flagged legacy; while any legacy key exists, keys failing the checksum are looked up.
   */
  @Post('import')
  @ApiAdminResponses({
    body: 'json',
    notFound: 'no such user',
    conflict: 'this key is already registered',
  })
  import(
    @Actor() actor: AdminActor,
    @Body() dto: ImportApiKeyDto,
  ): Promise<CreatedApiKeyResponseDto> {
    return this.apiKeys.import(actor, dto);
  }

  /** Keys that are not deleted, oldest first, without secrets; page with `next_cursor`. */
  @Get()
  @ApiAdminResponses({ query: true })
  list(@Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One key, with `spent_dollar` and `spent_this_month`; never its secret.',
  })
  @ApiAdminResponses({ path: 'uuid', notFound: 'no such key, or it was deleted' })
  get(@Param('id', keyId) id: string): Promise<ApiKeyResponseDto> {
    return this.apiKeys.get(id);
  }

  /** Changes name, spend cap and its period, allow-list, expiry, rate limit or metadata. */
  @Patch(':id')
  @ApiAdminResponses({ body: 'json', path: 'uuid', notFound: 'no such key, or it was deleted' })
  update(
    @Actor() actor: AdminActor,
    @Param('id', keyId) id: string,
    @Body() dto: UpdateApiKeyDto,
  ): Promise<ApiKeyResponseDto> {
    return this.apiKeys.update(actor, id, dto);
  }

  /**
   * A new secret for the key, keeping its id, settings and spend. The old secret works for
   * `grace_seconds` more, then answers 401 `api_key_revoked`.
   */
  @Post(':id/rotate')
  @HttpCode(200)
  @ApiAdminResponses({ body: 'json', path: 'uuid', notFound: 'no such key, or it was deleted' })
  rotate(
    @Actor() actor: AdminActor,
    @Param('id', keyId) id: string,
    @Body() dto: RotateApiKeyDto,
  ): Promise<CreatedApiKeyResponseDto> {
    return this.apiKeys.rotate(actor, id, dto);
  }

  /** Deletes and revokes a key, effective on the next request on every instance. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted and revoked.' })
  @ApiAdminResponses({ body: 'ignored', path: 'uuid', notFound: 'no such key, or it was deleted' })
  async delete(@Actor() actor: AdminActor, @Param('id', keyId) id: string): Promise<void> {
    await this.apiKeys.delete(actor, id);
  }
}
