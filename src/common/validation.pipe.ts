import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { DomainError, ValidationFailed } from './error-codes.js';
import { NonJsonBody } from './json-body.js';
import { validateDto } from './validation.js';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Array, Object]);

/** Validates `@Body()` and `@Query()` DTOs with the same rules as the guard routes. */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  transform(value: unknown, { type, metatype }: ArgumentMetadata): unknown {
    if ((type !== 'body' && type !== 'query') || !metatype || PRIMITIVES.has(metatype)) {
      return value;
    }
    if (value instanceof NonJsonBody) throw new DomainError('unsupported_media_type');
    const result = validateDto(metatype as new () => object, value);
    if (result.errors) throw new ValidationFailed(result.errors);
    return result.value;
  }
}
