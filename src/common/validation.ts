import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { type FieldError } from './error-codes.js';
import { InvalidJsonBody } from './json-body.js';

export type Validated<T> = { value: T; errors: null } | { value: null; errors: FieldError[] };

/**
 * Validates a parsed JSON body against a DTO class: strict types (no implicit conversion),
 * unknown fields refused, and strings Postgres cannot store refused, all as per-field errors.
 */
export function validateDto<T extends object>(
  cls: ClassConstructor<T>,
  body: unknown,
): Validated<T> {
  if (body instanceof InvalidJsonBody) {
    return { value: null, errors: [{ field: '', message: 'body must be valid JSON' }] };
  }
  if (body === undefined) body = {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { value: null, errors: [{ field: '', message: 'body must be a JSON object' }] };
  }
  const unstorable = findUnstorableString(body, '');
  if (unstorable !== null) {
    return {
      value: null,
      errors: [
        { field: unstorable, message: 'must not contain NUL characters or lone surrogates' },
      ],
    };
  }
  const instance = plainToInstance(cls, body);
  const problems = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
  });
  if (problems.length === 0) return { value: instance, errors: null };
  return { value: null, errors: flatten(problems, '') };
}

function flatten(problems: ValidationError[], parent: string): FieldError[] {
  const out: FieldError[] = [];
  for (const problem of problems) {
    const field = parent ? `${parent}.${problem.property}` : problem.property;
    for (const message of Object.values(problem.constraints ?? {})) {
      out.push({
        field,
        message: message.replace(/^property (\S+) should not exist$/, 'is not an allowed field'),
      });
    }
    if (problem.children?.length) out.push(...flatten(problem.children, field));
  }
  return out;
}

// A NUL, or a UTF-16 surrogate without its partner: text Postgres rejects.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string (value or key) in a JSON value that Postgres cannot store. */
export function findUnstorableString(value: unknown, path: string): string | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableString(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key)) return childPath;
    const found = findUnstorableString(child, childPath);
    if (found !== null) return found;
  }
  return null;
}
