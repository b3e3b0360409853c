import { Injectable, type PipeTransform } from '@nestjs/common';
import { NotFound } from './error-codes.js';
import { isUuid } from './uuid.js';

/** A path id that is not a UUID names nothing: 404, without asking the database. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  constructor(private readonly what: string) {}

  transform(value: string): string {
    if (!isUuid(value)) throw new NotFound(this.what);
    return value.toLowerCase();
  }
}
