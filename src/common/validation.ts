import { plainToInstance, TransformationType, type ClassConstructor } from 'class-transformer';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import {
  getMetadataStorage,
  ValidateIf,
  validateSync,
  type ValidationArguments,
  type ValidationError,
  ValidationTypes,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { type FieldError } from './error-codes.js';
import { InvalidJsonBody } from './json-body.js';

export type Validated<T> = { value: T; errors: null } | { value: null; errors: FieldError[] };

/**
 * Validates a parsed JSON body against a DTO class: strict types (no implicit conversion),
 * unknown fields refused, and strings Postgres cannot store refused, all as per-field errors.
 */
/**
 * An optional field that cannot be emptied: it may be left out, but `null` is checked (and
 * refused) like any other wrong value, instead of reaching a NOT NULL column.
 */
export function IsOptionalNonNull(): PropertyDecorator {
  return ValidateIf((_dto, value) => value !== undefined);
}

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
  const unknown = Object.keys(body).filter((key) => !declaredFields(cls).has(key));
  if (unknown.length > 0) {
    return {
      value: null,
      errors: unknown.map((field) => ({ field, message: 'is not an allowed field' })),
    };
  }
  const problem = inspectJson(body, '', 0);
  if (problem !== null) return { value: null, errors: [problem] };
  const instance = toInstance(cls, body as Record<string, unknown>);
  if (compiledValidation(cls)?.(instance)) return { value: instance, errors: null };
  const problems = validateSync(instance, VALIDATOR_OPTIONS);
  if (problems.length === 0) return { value: instance, errors: null };
  return { value: null, errors: flatten(problems, '') };
}

/** The options of every `validateSync` of a request DTO. */
export const VALIDATOR_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
  validationError: { target: false, value: false },
};

/** A property's checks, as class-validator runs them for `validateSync` with the options above. */
interface CompiledProperty {
  name: string;
  /** `@IsOptional`, `@ValidateIf`: the property is checked only when all of them hold. */
  conditions: ((object: object, value: unknown) => boolean)[];
  checks: {
    validateIf?: (object: object, value: unknown) => boolean;
    constraints: unknown[];
    validators: ValidatorConstraintInterface[];
  }[];
}

const compiledByClass = new WeakMap<ClassConstructor<object>, ((dto: object) => boolean) | null>();

/**
 * Whether a DTO instance passes its class's decorators, answered by calling the same
 * registered class-validator constraints that `validateSync` calls, gathered once per class
 * instead of on every request (`validateSync` filters the whole metadata store, groups it and
 * builds an error tree for each call: most of a guard request's validation time). Only the
 * verdict "valid" is taken from it: anything else goes through `validateSync`, which writes the
 * errors. Null for a class that uses what this does not gather (nested DTOs, `each`, promise
 * validation, unknown metadata types): such a class always goes through `validateSync`.
 */
export function compiledValidation(
  cls: ClassConstructor<object>,
): ((dto: object) => boolean) | null {
  let compiled = compiledByClass.get(cls);
  if (compiled === undefined) {
    const properties = compileProperties(cls);
    const names = new Set(properties?.map((property) => property.name));
    compiled = properties && ((dto) => passes(properties, names, dto));
    compiledByClass.set(cls, compiled);
  }
  return compiled;
}

function compileProperties(cls: ClassConstructor<object>): CompiledProperty[] | null {
  const storage = getMetadataStorage();
  // The arguments validateSync's executor passes without groups or `always`.
  const metadatas = storage.getTargetValidationMetadatas(cls, '', false, false, undefined);
  if (metadatas.length === 0) return null;
  const properties: CompiledProperty[] = [];
  for (const [name, list] of Object.entries(storage.groupByPropertyName(metadatas))) {
    const property: CompiledProperty = { name, conditions: [], checks: [] };
    for (const metadata of list) {
      if (metadata.type === ValidationTypes.WHITELIST) continue;
      if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
        property.conditions.push(metadata.constraints[0] as CompiledProperty['conditions'][0]);
        continue;
      }
      const custom =
        metadata.type === ValidationTypes.CUSTOM_VALIDATION ||
        metadata.type === ValidationTypes.IS_DEFINED;
      if (!custom || metadata.each || !metadata.constraintCls) return null;
      property.checks.push({
        validateIf: metadata.validateIf,
        constraints: metadata.constraints,
        // validateSync skips asynchronous constraints.
        validators: storage
          .getTargetValidatorConstraints(metadata.constraintCls)
          .filter((constraint) => !constraint.async)
          .map((constraint) => constraint.instance),
      });
    }
    properties.push(property);
  }
  return properties;
}

function passes(properties: CompiledProperty[], names: Set<string>, dto: object): boolean {
  const record = dto as Record<string, unknown>;
  // whitelist + forbidNonWhitelisted: every own field must have metadata.
  if (!Object.keys(record).every((key) => names.has(key))) return false;
  for (const { name, conditions, checks } of properties) {
    const value = record[name];
    if (value instanceof Promise) return false;
    if (!conditions.every((condition) => condition(dto, value))) continue;
    for (const { validateIf, constraints, validators } of checks) {
      if (validateIf && !validateIf(dto, value)) continue;
      const args: ValidationArguments = {
        targetName: dto.constructor.name,
        property: name,
        object: dto,
        value,
        constraints,
      };
      for (const validator of validators) {
        const valid = validator.validate(value, args);
        if (valid !== true && (!valid || valid instanceof Promise)) return false;
      }
    }
  }
  return true;
}

/**
 * The DTO instance of a body. class-transformer copies nested values key by key, and in doing
 * so drops `constructor` and `__proto__` keys and throws on a `constructor` key that holds a
 * value (`{"metadata": {"constructor": {}}}`). Objects and arrays in fields that are not
 * nested DTOs (free-form JSON such as `messages` and `metadata`, lists of strings) are kept as
 * parsed instead.
 */
export function toInstance<T extends object>(
  cls: ClassConstructor<T>,
  body: Record<string, unknown>,
): T {
  const nested = nestedFields(cls);
  const transformed: Record<string, unknown> = {};
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const asParsed = value !== null && typeof value === 'object' && !nested.has(key);
    (asParsed ? kept : transformed)[key] = value;
  }
  const instance = isPlainDto(cls)
    ? Object.assign(new cls(), transformed)
    : plainToInstance(cls, transformed);
  return Object.assign(instance, kept);
}

const plainByClass = new WeakMap<ClassConstructor<object>, boolean>();

/**
 * Whether class-transformer has nothing to do for a DTO: no nested DTO, none of its decorators
 * (`@Type`, `@Transform`, `@Expose`, `@Exclude`) on the class or its fields, and no accessor or
 * method under a field's name. Its `plainToInstance` then only copies the fields (JSON
 * strings, numbers, booleans and nulls, without implicit conversion) onto a new instance, at
 * about 5 µs a call through its generic walk; `Object.assign` copies the same. The guard's
 * log-usage body is such a DTO.
 */
function isPlainDto(cls: ClassConstructor<object>): boolean {
  let plain = plainByClass.get(cls);
  if (plain === undefined) {
    const storage = defaultMetadataStorage;
    plain =
      nestedFields(cls).size === 0 &&
      storage.getStrategy(cls) === 'none' &&
      storage.getExposedMetadatas(cls).length === 0 &&
      storage.getExcludedMetadatas(cls).length === 0 &&
      [...declaredFields(cls)].every(
        (field) =>
          !(field in cls.prototype) &&
          storage.findTypeMetadata(cls, field) === undefined &&
          storage.findTransformMetadatas(cls, field, TransformationType.PLAIN_TO_CLASS).length ===
            0,
      );
    plainByClass.set(cls, plain);
  }
  return plain;
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
const MAX_DEPTH = 32;

const fieldsByClass = new WeakMap<ClassConstructor<object>, Set<string>>();

/**
 * The fields a DTO declares. Checked on the raw keys, before class-transformer, so names that
 * every object inherits (`constructor`, `toString`, `__proto__`) are refused like any other.
 */
function declaredFields(cls: ClassConstructor<object>): Set<string> {
  let fields = fieldsByClass.get(cls);
  if (!fields) {
    fields = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(cls, '', true, false)
        .map((metadata) => metadata.propertyName),
    );
    fieldsByClass.set(cls, fields);
  }
  return fields;
}

const nestedByClass = new WeakMap<ClassConstructor<object>, Set<string>>();

/** The fields a DTO validates as nested DTOs (`@ValidateNested`). */
function nestedFields(cls: ClassConstructor<object>): Set<string> {
  let fields = nestedByClass.get(cls);
  if (!fields) {
    fields = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(cls, '', true, false)
        .filter((metadata) => metadata.type === ValidationTypes.NESTED_VALIDATION)
        .map((metadata) => metadata.propertyName),
    );
    nestedByClass.set(cls, fields);
  }
  return fields;
}

/** Whether a string (a value, or a key) can be stored by Postgres. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** The first part of a JSON value that Postgres cannot store, or that is nested too deeply. */
function inspectJson(value: unknown, path: string, depth: number): FieldError | null {
  if (typeof value === 'string') {
    return isStorableText(value)
      ? null
      : { field: path, message: 'must not contain NUL characters or lone surrogates' };
  }
  if (value === null || typeof value !== 'object') return null;
  if (depth >= MAX_DEPTH) {
    return { field: path, message: `must not be nested more than ${MAX_DEPTH} levels deep` };
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((child, index) => [`${path}[${index}]`, child])
    : Object.entries(value).map(([key, child]) => [path ? `${path}.${key}` : key, child]);
  if (!Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      if (!isStorableText(key)) {
        return {
          field: path ? `${path}.${key}` : key,
          message: 'must not contain NUL characters or lone surrogates',
        };
      }
    }
  }
  for (const [childPath, child] of entries) {
    const problem = inspectJson(child, childPath, depth + 1);
    if (problem !== null) return problem;
  }
  return null;
}
