import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/access.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyResponseDto, CreatedApiKeyResponseDto } from './dto/api-key-response.dto.js';
import { CreateApiKeyDto } from './dto/create-api-key.dto.js';
import { ListApiKeysQueryDto } from './dto/list-api-keys.query.dto.js';

@ApiTags('admin: api keys')
@AdminOnly()
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  /** Issues a key for a user. The answer holds the key: the only time it is shown. */
  @Post()
  @ApiNotFoundResponse({ description: 'Unknown user', type: ErrorResponseDto })
  create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    return this.apiKeys.create(dto);
  }

  /** Keys that are not deleted, oldest first (at most 1000), without secrets. */
  @Get()
  list(@Query() query: ListApiKeysQueryDto): Promise<ApiKeyResponseDto[]> {
    return this.apiKeys.list(query.user_id);
  }

  /** Deletes and revokes a key, effective on the next request. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async delete(@Param('id', new UuidParamPipe('API key')) id: string): Promise<void> {
    await this.apiKeys.delete(id);
  }
}
