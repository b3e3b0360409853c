import { ValidationFailed } from './error-codes.js';
import { isUuid } from './uuid.js';

/**
 * Cursors of lists ordered by (created_at, id): opaque to clients, exact to the microsecond
 * (the timestamp travels as Postgres wrote it, not as a JavaScript Date).
 */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (
    extra !== undefined ||
    !id ||
    !isUuid(id) ||
    !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?$/.test(createdAt ?? '')
  ) {
    throw new ValidationFailed([{ field: 'cursor', message: 'must be a next_cursor value' }]);
  }
  return { createdAt, id };
}
