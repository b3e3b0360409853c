import { Body, Controller, Get, Param, Put, type PipeTransform } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiAdminResponses } from '../common/openapi.js';
import { ModelPriceResponseDto } from './dto/model-price-response.dto.js';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { ValidationFailed } from '../common/error-codes.js';
import { isStorableText } from '../common/validation.js';
import { ModelResponseDto } from './dto/model-response.dto.js';
import { PutModelDto } from './dto/put-model.dto.js';
import { ModelsService } from './models.service.js';

/** A model's `unique_name` in a path: 1 to 200 characters Postgres can store, else 400. */
class ModelNamePipe implements PipeTransform<string, string> {
  transform(uniqueName: string): string {
    if (uniqueName.length === 0 || uniqueName.length > 200 || !isStorableText(uniqueName)) {
      throw new ValidationFailed([
        { field: 'unique_name', message: 'must be 1 to 200 characters of storable text' },
      ]);
    }
    return uniqueName;
  }
}

@ApiTags('admin: models')
@AdminOnly()
@Controller('admin/models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  /** Creates a model or updates its prices (USD per million tokens). */
  @Put(':unique_name')
  @ApiAdminResponses({ body: 'json', path: 'name' })
  put(
    @Actor() actor: AdminActor,
    @Param('unique_name', ModelNamePipe) uniqueName: string,
    @Body() dto: PutModelDto,
  ): Promise<ModelResponseDto> {
    return this.models.put(actor, uniqueName, dto);
  }

  /** Every price the model has had, newest first; usage rows keep the one they were charged. */
  @Get(':unique_name/prices')
  @ApiAdminResponses({ path: 'name', notFound: 'no such model' })
  prices(
    @Param('unique_name', ModelNamePipe) uniqueName: string,
  ): Promise<ModelPriceResponseDto[]> {
    return this.models.prices(uniqueName);
  }

  /** Every model with its prices, by name. */
  @Get()
  @ApiAdminResponses()
  list(): Promise<ModelResponseDto[]> {
    return this.models.list();
  }
}
