import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import type { RawRequest } from './raw-http.js';

/* ------------------------------------------------------------------------------------------ */
/* The served OpenAPI document, as far as the fuzzer reads it                                  */
/* ------------------------------------------------------------------------------------------ */

export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  additionalProperties?: boolean | Schema;
  example?: unknown;
}

interface ParameterObject {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}

interface OperationObject {
  parameters?: ParameterObject[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Record<string, string[]>[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Who may call an operation, from its security requirement. */
export type Auth = 'guard' | 'admin' | 'none';

export interface Operation {
  /** `POST /api/guard/auth`: how failures name the route. */
  name: string;
  method: string;
  path: string;
  pathParams: ParameterObject[];
  queryParams: ParameterObject[];
  headerParams: ParameterObject[];
  /** The JSON body's schema, resolved; undefined when the operation takes no body. */
  body?: Schema;
  auth: Auth;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head']);

/** Every operation of the document, with `$ref`s and `allOf`s of its schemas resolved. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const parameters = operation.parameters ?? [];
      const schemes = (operation.security ?? []).flatMap((entry) => Object.keys(entry));
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
      operations.push({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ ...p, schema: resolve(document, p.schema) })),
        headerParams: parameters.filter((p) => p.in === 'header'),
        body: bodySchema ? resolve(document, bodySchema) : undefined,
        auth: schemes.includes('admin')
          ? 'admin'
          : schemes.includes('SecretKey') || schemes.includes('ApiKey')
            ? 'guard'
            : 'none',
      });
    }
  }
  return operations;
}

function resolve(document: OpenApiDocument, schema: Schema | undefined, depth = 0): Schema {
  if (!schema || depth > 8) return {};
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return resolve(document, document.components?.schemas?.[name], depth + 1);
  }
  let out: Schema = { ...schema };
  if (schema.allOf) {
    delete out.allOf;
    for (const part of schema.allOf) out = { ...out, ...resolve(document, part, depth + 1) };
  }
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([key, child]) => [
        key,
        resolve(document, child, depth + 1),
      ]),
    );
  }
  if (out.items) out.items = resolve(document, out.items, depth + 1);
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* What the fuzzer knows about the service it talks to                                         */
/* ------------------------------------------------------------------------------------------ */

export interface FuzzWorld {
  adminToken: string;
  /** A service secret and an API key with credit, and an organization its user owns. */
  secretKey: string;
  apiKey: string;
  organizationPublicId: string;
  /**
   * Other working keys that lead elsewhere in the check table: a key allowed one other model
   * only, a key of a user without credit, a key limited to one request a minute.
   */
  otherApiKeys: string[];
  /** Organizations the key's user is a reader of, or not a member of. */
  otherOrganizationPublicIds: string[];
  model: string;
  revokedApiKey: string;
  bodyLimitBytes: number;
  /**
   * Existing ids that path parameters may name, by the collection before them in the path
   * (`users`, `organizations`, `api-keys`, `service-clients`, `models`). Not the ids of the
   * credentials above, so that deleting or rotating them does not lock the fuzzer out.
   */
  ids: Record<string, string[]>;
  /** Every id above, for body fields and parameters that name one of them. */
  allIds: string[];
}

/* ------------------------------------------------------------------------------------------ */
/* JSON text with parts JSON.stringify cannot write                                            */
/* ------------------------------------------------------------------------------------------ */

/** A piece of JSON text written literally: `1e400`, `-0`, 10,000 nested arrays, or not JSON. */
export class RawJson {
  constructor(
    readonly text: string,
    readonly label: string,
  ) {}
}

/** An object written key by key: `__proto__` and repeated keys included. */
export class JsonEntries {
  constructor(readonly entries: [string, unknown][]) {}
}

export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof JsonEntries) {
    return `{${value.entries
      .filter(([, child]) => child !== undefined)
      .map(([key, child]) => `${JSON.stringify(key)}:${jsonText(child)}`)
      .join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((child) => jsonText(child ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return jsonText(new JsonEntries(Object.entries(value)));
  }
  return JSON.stringify(value) ?? 'null';
}

const DEEP = 10_000;
const MEGABYTE = 1024 * 1024;
const deepArrays = new RawJson('['.repeat(DEEP) + ']'.repeat(DEEP), `${DEEP} nested arrays`);
const deepObjects = new RawJson(
  '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP),
  `${DEEP} nested objects`,
);
const megabyteString = 'x'.repeat(MEGABYTE);
const megabyteOfEscapes = '\\u0000'.repeat(MEGABYTE / 6);

/** Values that have broken JSON APIs before: each one a field value worth trying everywhere. */
export const HOSTILE_VALUES: unknown[] = [
  new RawJson('1e400', '1e400'),
  new RawJson('-1e400', '-1e400'),
  new RawJson('1e-400', '1e-400'),
  new RawJson('-0', '-0'),
  new RawJson('-0.0', '-0.0'),
  new RawJson('9007199254740993', '2^53+1'),
  new RawJson('123456789012345678901234567890', '30 digits'),
  new RawJson('1.0000000000000000000000001', 'long fraction'),
  new RawJson('0.1e1', '0.1e1'),
  new RawJson('1E2', '1E2'),
  new RawJson('NaN', 'NaN'),
  new RawJson('Infinity', 'Infinity'),
  new RawJson('-Infinity', '-Infinity'),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -1,
  0.5,
  2 ** 31,
  2 ** 63,
  -(2 ** 63),
  1e21,
  '12',
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00',
  '\ud83d\ude00',
  '\u202e\u0301',
  '\uffff',
  'null',
  '__proto__',
  '2026-02-30T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '0000-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '2026-06-30T23:59:60Z',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '{8e5f5c44-0000-4000-8000-000000000000}',
  "'; DROP TABLE users; --",
  'x'.repeat(256),
  'x'.repeat(10_000),
  megabyteString,
  true,
  false,
  null,
  [],
  {},
  [null],
  [1, 'a', null],
  { a: { b: { c: [] } } },
  new JsonEntries([['__proto__', { polluted: true }]]),
  new JsonEntries([['constructor', { prototype: { polluted: true } }]]),
  deepArrays,
  deepObjects,
];

const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
];

/* ------------------------------------------------------------------------------------------ */
/* Values from the document's schemas                                                          */
/* ------------------------------------------------------------------------------------------ */

/** `arbitrary` in one case out of `oneIn`, else undefined. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: oneIn - 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary },
  );
}

const hostile = () => fc.constantFrom(...HOSTILE_VALUES);

function isoDate(): fc.Arbitrary<string> {
  return fc
    .date({
      min: new Date('1900-01-01T00:00:00Z'),
      max: new Date('2200-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((date) => date.toISOString());
}

function idFor(world: FuzzWorld, name: string): fc.Arbitrary<string> {
  const byName = Object.entries(world.ids).find(([collection]) =>
    name.includes(collection.replace(/-/g, '_').replace(/s$/, '')),
  );
  const pool = byName?.[1].length ? byName[1] : world.allIds;
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) },
  );
}

/** A value that mostly satisfies `schema`, drawn near its bounds and from its examples. */
export function valueFor(
  schema: Schema,
  world: FuzzWorld,
  name = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  const plain = plainValueFor(schema, world, name, depth);
  return schema.nullable ? fc.oneof({ weight: 5, arbitrary: plain }, fc.constant(null)) : plain;
}

function plainValueFor(
  schema: Schema,
  world: FuzzWorld,
  name: string,
  depth: number,
): fc.Arbitrary<unknown> {
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  const example = schema.example === undefined ? [] : [fc.constant(schema.example)];
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'uuid') return idFor(world, name);
      if (schema.format === 'date-time' || /_at$|^(from|to)$/.test(name)) {
        return fc.oneof(isoDate(), ...example);
      }
      if (name === 'key') {
        // An API key to import: `sk-` and printable characters.
        return fc.stringMatching(/^[\x21-\x7e]{8,60}$/).map((rest) => `sk-${rest}`);
      }
      if (/model/.test(name)) {
        return fc.oneof(
          { weight: 4, arbitrary: fc.constant(world.model) },
          ...(world.ids.models ?? []).map((model) => fc.constant(model)),
          fc.string({ minLength: 1, maxLength: 30 }),
        );
      }
      const min = schema.minLength ?? 0;
      const max = Math.max(min, Math.min(schema.maxLength ?? 40, 40));
      return fc.oneof(
        { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: max }) },
        fc.string({ minLength: min, maxLength: max, unit: 'grapheme' }),
        ...example,
      );
    }
    case 'number':
    case 'integer': {
      const min = schema.minimum ?? 0;
      const max = schema.maximum ?? Math.max(min, 1_000_000);
      return fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: Math.ceil(min), max: Math.min(max, 2 ** 31) }) },
        fc.double({ min, max, noNaN: true }),
        fc.constantFrom(min, max),
        ...example,
      );
    }
    case 'boolean':
      return fc.boolean();
    case 'array': {
      if (depth > 3) return fc.constant([]);
      return fc.array(valueFor(schema.items ?? {}, world, name, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    }
    case 'object':
    case undefined: {
      if (schema.properties && Object.keys(schema.properties).length > 0 && depth <= 3) {
        const shape = Object.fromEntries(
          Object.entries(schema.properties).map(([key, child]) => [
            key,
            valueFor(child, world, key, depth + 1),
          ]),
        );
        return fc.record(shape, { requiredKeys: schema.required ?? [] });
      }
      if (schema.type === 'object') {
        return fc.dictionary(
          fc.string({ maxLength: 10 }),
          fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>,
          {
            maxKeys: 4,
          },
        );
      }
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>;
  }
}

/** A schema-shaped body with one thing wrong with it. */
function mutatedBody(schema: Schema, world: FuzzWorld): fc.Arbitrary<unknown> {
  const valid = valueFor(schema, world) as fc.Arbitrary<Record<string, unknown>>;
  const fields = Object.keys(schema.properties ?? {});
  const entries = (value: Record<string, unknown>) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value)
      : [];
  const field = fields.length ? fc.constantFrom(...fields) : fc.string({ maxLength: 8 });
  return fc.oneof(
    // One field (declared or present) set to a hostile value.
    fc
      .tuple(valid, field, hostile())
      .map(([body, key, value]) => new JsonEntries([...entries(body), [key, value]])),
    // A declared field's value repeated with another, hostile one after it.
    fc
      .tuple(valid, hostile())
      .map(
        ([body, value]) =>
          new JsonEntries([
            ...entries(body),
            ...entries(body).map(([key]) => [key, value] as [string, unknown]),
          ]),
      ),
    // A required field left out.
    fc
      .tuple(valid, field)
      .map(([body, key]) => new JsonEntries(entries(body).filter(([name]) => name !== key))),
    // An unknown field, or a key every object inherits.
    fc
      .tuple(
        valid,
        fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })),
        hostile(),
      )
      .map(([body, key, value]) => new JsonEntries([[key, value], ...entries(body)])),
    // The body as something other than an object.
    valid.map((body) => [body]),
    hostile(),
  );
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */
/* ------------------------------------------------------------------------------------------ */

export interface BodySpec {
  label: string;
  contentType: string | null;
  payload: Buffer;
}

/** One generated request, before it is written out for an operation. */
export interface CaseSpec {
  method?: string;
  /** The request target written otherwise: trailing slash, absolute form, other case… */
  pathForm?: PathForm;
  /** One raw (already encoded, or deliberately not) segment per path parameter. */
  pathValues: string[];
  query: string;
  headers: [string, string][];
  body?: BodySpec;
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json;',
  'application/jsonx',
  'application/json-patch+json',
  'application/vnd.api+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  '*/*',
  '',
  ';;',
];

export function jsonBody(
  value: unknown,
  label: string,
  contentType = 'application/json',
): BodySpec {
  return { label, contentType, payload: Buffer.from(jsonText(value), 'utf8') };
}

function rawBody(text: string, label: string, contentType = 'application/json'): BodySpec {
  return { label, contentType, payload: Buffer.from(text, 'utf8') };
}

/** Bodies that are not JSON values at all, or are at the edges of what a parser takes. */
function hostileRawBodies(world: FuzzWorld): BodySpec[] {
  const overLimit = Buffer.alloc(world.bodyLimitBytes + 1, 'x');
  overLimit.write('{"model":"', 0);
  return [
    rawBody('', 'empty'),
    rawBody('   \n', 'whitespace'),
    rawBody('{', 'truncated JSON'),
    rawBody('{"model": "x",}', 'trailing comma'),
    rawBody("{'model': 'x'}", 'single quotes'),
    rawBody('\ufeff{"model":"x"}', 'byte order mark'),
    rawBody('{"model":"x"}{"model":"y"}', 'two documents'),
    rawBody('null', 'null'),
    rawBody('"just a string"', 'a string'),
    rawBody('12', 'a number'),
    rawBody('NaN', 'NaN'),
    rawBody('1e400', '1e400'),
    rawBody('[]', 'empty array'),
    rawBody(deepArrays.text, deepArrays.label),
    rawBody(deepObjects.text, deepObjects.label),
    rawBody('['.repeat(200_000), 'unterminated nesting'),
    rawBody(`{"model":"${megabyteOfEscapes}"}`, 'a megabyte of \\u0000'),
    {
      label: 'invalid UTF-8',
      contentType: 'application/json',
      payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    },
    { label: 'over the body limit', contentType: 'application/json', payload: overLimit },
  ];
}

function bodyFor(operation: Operation, world: FuzzWorld): fc.Arbitrary<BodySpec | undefined> {
  const schema = operation.body;
  const options: fc.WeightedArbitrary<BodySpec | undefined>[] = [
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => jsonBody(value, 'arbitrary JSON')),
    },
    { weight: 1, arbitrary: fc.constantFrom(...hostileRawBodies(world)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          schema ? valueFor(schema, world) : fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom(...CONTENT_TYPES),
        )
        .map(([value, type]) => jsonBody(value, `content type ${JSON.stringify(type)}`, type)),
    },
  ];
  if (schema) {
    options.push(
      {
        weight: 5,
        arbitrary: valueFor(schema, world).map((value) => jsonBody(value, 'from the schema')),
      },
      {
        weight: 5,
        arbitrary: mutatedBody(schema, world).map((value) => jsonBody(value, 'mutated')),
      },
    );
  }
  return fc.oneof(...options);
}

function wellFormedUnknownKey(random: string): string {
  const body = random.padEnd(56, '0').slice(0, 56);
  return `sk-${body}${crc32(body).toString(16).padStart(8, '0')}`;
}

function credentialsFor(operation: Operation, world: FuzzWorld): fc.Arbitrary<[string, string][]> {
  const guard: [string, string][] = [
    ['SecretKey', world.secretKey],
    ['Authorization', world.apiKey],
  ];
  const admin: [string, string][] = [['Authorization', `Bearer ${world.adminToken}`]];
  const valid = operation.auth === 'admin' ? admin : operation.auth === 'guard' ? guard : [];
  const text = fc.string({ maxLength: 80 });
  const garbageValue = fc.oneof(
    text,
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'sk-',
      `bearer ${world.adminToken}`,
      `Bearer ${world.adminToken}x`,
      `Bearer ${world.adminToken.slice(0, -1)}`,
      world.revokedApiKey,
      `Bearer ${world.revokedApiKey}`,
      `${world.apiKey.toUpperCase()}`,
      `Bearer  ${world.apiKey} `,
      `sk-${'a'.repeat(250)}`,
      'ss-' + '0'.repeat(64),
    ),
    fc.stringMatching(/^[0-9a-f]{56}$/).map(wellFormedUnknownKey),
  );
  const otherKeys = world.otherApiKeys.map((key): [string, string][] => [
    ['SecretKey', world.secretKey],
    ['Authorization', key],
  ]);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(valid) },
    ...(operation.auth === 'guard'
      ? [{ weight: 2, arbitrary: fc.constantFrom(...otherKeys) }]
      : []),
    {
      weight: 3,
      arbitrary: fc
        .tuple(garbageValue, garbageValue, fc.boolean())
        .map(([secret, key, keepSecret]): [string, string][] => [
          ['SecretKey', keepSecret ? world.secretKey : secret],
          ['Authorization', key],
        ]),
    },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    {
      weight: 1,
      arbitrary: fc.constant(operation.auth === 'admin' ? guard : admin),
    },
  );
}

/** Header lines no browser would send: oversized, repeated, with control characters. */
function oddHeaders(world: FuzzWorld): fc.Arbitrary<[string, string][]> {
  const big = 'a'.repeat(20 * 1024);
  return fc.constantFrom<[string, string][]>(
    [['Authorization', `sk-${big}`]],
    [['X-Padding', big]],
    [['SecretKey', big]],
    [['Authorization', 'sk-\u0001abc']],
    [['SecretKey', 'ss-\u0000']],
    [['X-Ctl', 'a\u007fb']],
    [['X-Ctl', 'a\rb']],
    [['X-Ctl', 'a\u000bb']],
    [['X Bad Name', 'v']],
    [['X-Ünicode', 'v']],
    [['', 'empty name']],
    [['SecretKey', 'ss-\u00ff\u00fe\u00e9']],
    [['Authorization', 'Bearer sk-\u00e9\u00e9']],
    [['Swarms-Organization', '\u00ff'.repeat(36)]],
    [
      ['Authorization', world.apiKey],
      ['Authorization', 'sk-other'],
    ],
    [
      ['Authorization', `Bearer ${world.adminToken}`],
      ['Authorization', `Bearer ${world.adminToken}`],
    ],
    [
      ['SecretKey', world.secretKey],
      ['SecretKey', world.secretKey],
    ],
    [
      ['Swarms-Organization', world.organizationPublicId],
      ['Swarms-Organization', world.organizationPublicId],
    ],
    [
      ['Idempotency-Key', 'a'],
      ['Idempotency-Key', 'b'],
    ],
    [
      ['X-Request-Id', 'one'],
      ['X-Request-Id', 'two'],
    ],
    [
      ['Transfer-Encoding', 'chunked'],
      ['Content-Length', '1'],
    ],
    [['Content-Encoding', 'gzip']],
    [['Expect', '100-continue']],
    [['Accept', 'text/csv']],
    [['Accept', 'application/xml']],
    [['Accept', 'text/csv;q=0.5, application/json;q=0.9']],
    Array.from({ length: 150 }, (_, i): [string, string] => [`X-Many-${i}`, 'v']),
  );
}

function headersFor(operation: Operation, world: FuzzWorld): fc.Arbitrary<[string, string][]> {
  const documented = operation.headerParams.map((param) =>
    fc
      .oneof(
        param.schema?.format === 'uuid'
          ? fc.constantFrom(
              world.organizationPublicId,
              world.organizationPublicId.toUpperCase(),
              ...world.otherOrganizationPublicIds,
            )
          : fc.string({ minLength: 1, maxLength: 40 }),
        fc.uuid(),
        fc.constantFrom('', ' ', 'x'.repeat(300), 'not-a-uuid', '\u00e9', '%00'),
      )
      .map((value): [string, string] => [param.name, value]),
  );
  const requestId = fc
    .oneof(fc.stringMatching(/^[\w.:@/+=-]{1,128}$/), fc.string({ maxLength: 200 }))
    .map((value): [string, string] => ['X-Request-Id', value]);
  const optional = [...documented, requestId].map((arbitrary) => sometimes(arbitrary, 3));
  return fc
    .tuple(credentialsFor(operation, world), fc.tuple(...optional), sometimes(oddHeaders(world), 6))
    .map(([credentials, extras, odd]) => [
      ...credentials,
      ...(extras.filter((header) => header !== undefined) as [string, string][]),
      ...(odd ?? []),
    ]);
}

/* Path segments and query strings ------------------------------------------------------------ */

const ODD_SEGMENTS = [
  '%00',
  'bad%00name',
  'a'.repeat(1001),
  'a'.repeat(5000),
  '%F0%9F%98%80',
  '\u00e9t\u00e9',
  '\ud83d\ude00',
  '%ED%A0%80',
  '%C0%80',
  '%FF',
  '%',
  '%ZZ',
  '..',
  '.',
  '%2e%2e',
  'a%2Fb',
  '%20',
  '__proto__',
  'constructor',
  'null',
  '0',
  '-1',
  '{id}',
  '00000000-0000-0000-0000-000000000000',
  '8E5F5C44-0000-4000-8000-000000000000',
  '8e5f5c44-0000-4000-8000-000000000000%20',
  '8e5f5c4400004000800000000000000',
  '8e5f5c44-0000-4000-8000-0000000000000',
];

/** Existing ids a path parameter may name: those of the collection it follows in the path. */
export function poolFor(operation: Operation, name: string, world: FuzzWorld): string[] {
  const segments = operation.path.split('/');
  const collection = segments[segments.indexOf(`{${name}}`) - 1] ?? '';
  const pool = /^user/i.test(name) ? world.ids.users : world.ids[collection];
  return pool?.length ? pool : world.allIds;
}

function pathValueFor(
  operation: Operation,
  param: ParameterObject,
  world: FuzzWorld,
): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.constantFrom(...poolFor(operation, param.name, world)).map(encodeURIComponent),
    },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...ODD_SEGMENTS) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
  );
}

const ODD_QUERY_VALUES = [
  '',
  '%00',
  '%ZZ',
  '%',
  '%ED%A0%80',
  '-1',
  '0',
  '1.5',
  '1e3',
  '0x10',
  'NaN',
  'Infinity',
  '%20%2010',
  '99999999999999999999',
  'x'.repeat(300),
  '2026-02-30T00:00:00Z',
  '%2B275760-09-13T00%3A00%3A00.000Z',
  'true',
  '__proto__',
  ',,,',
  'model,model',
  'user,bogus',
];

function queryFor(operation: Operation, world: FuzzWorld): fc.Arbitrary<string> {
  const params = operation.queryParams.map((param) =>
    sometimes(
      fc
        .oneof(
          {
            weight: 3,
            arbitrary: valueFor(param.schema ?? {}, world, param.name).map((value) =>
              encodeURIComponent(Array.isArray(value) ? value.join(',') : String(value)),
            ),
          },
          { weight: 1, arbitrary: fc.constantFrom(...ODD_QUERY_VALUES) },
        )
        .map((value) => `${param.name}=${value}`),
      2,
    ),
  );
  const names = operation.queryParams.map((param) => param.name);
  const name = names.length ? fc.constantFrom(...names) : fc.constant('q');
  const extras = fc.oneof(
    name.map((n) => `${n}=1&${n}=2`),
    name.map((n) => `${n}[]=1`),
    name.map((n) => `${n}[a]=1`),
    name.map((n) => `${n}`),
    fc.constantFrom(
      'unknown=1',
      '__proto__=1',
      '__proto__[polluted]=1',
      'constructor[prototype][polluted]=1',
      '&&&',
      '=',
      '=x',
      '%ZZ=1',
      '%00=%00',
      `long=${'x'.repeat(8000)}`,
    ),
  );
  return fc
    .tuple(fc.tuple(...params), sometimes(extras, 4))
    .map(([parts, extra]) =>
      [...parts, extra].filter((part): part is string => part !== undefined).join('&'),
    );
}

type PathForm = ((path: string) => string) & { label: string };

function pathForm(label: string, form: (path: string) => string): PathForm {
  return Object.assign(form, { label });
}

/** The same route written as routers and proxies have been known to read differently. */
const PATH_FORMS: PathForm[] = [
  pathForm('trailing slash', (path) => `${path}/`),
  pathForm('double slashes', (path) => path.replace(/\//g, '//')),
  pathForm('upper case', (path) => path.toUpperCase()),
  pathForm('absolute form', (path) => `http://127.0.0.1${path}`),
  pathForm('dot segment', (path) => path.replace('/api/', '/api/./')),
  pathForm('parent segment', (path) => path.replace('/api/', '/api/x/../')),
  pathForm('encoded slash', (path) => path.replace('/api/', '/api%2F')),
  pathForm('matrix parameter', (path) => `${path};jsessionid=1`),
  pathForm('fragment', (path) => `${path}#top`),
  pathForm('no leading slash', (path) => path.slice(1)),
  pathForm('asterisk', () => '*'),
  pathForm('backslashes', (path) => path.replace(/\//g, '\\')),
  pathForm('20 KB of path', (path) => `${path}${'/x'.repeat(10_000)}`),
];

export function caseFor(operation: Operation, world: FuzzWorld): fc.Arbitrary<CaseSpec> {
  return fc.record({
    method: sometimes(
      fc.constantFrom(
        'GET',
        'POST',
        'PUT',
        'PATCH',
        'DELETE',
        'OPTIONS',
        'HEAD',
        'TRACE',
        'PROPFIND',
        'get',
        'FOO',
      ),
      15,
    ),
    pathForm: sometimes(fc.constantFrom(...PATH_FORMS), 12),
    pathValues: fc.tuple(
      ...operation.pathParams.map((param) => pathValueFor(operation, param, world)),
    ),
    query: queryFor(operation, world),
    headers: headersFor(operation, world),
    body: bodyFor(operation, world),
  });
}

/** The request a case stands for, byte for byte. */
export function buildRequest(operation: Operation, spec: CaseSpec): RawRequest {
  let index = 0;
  const filled = operation.path.replace(/\{[^}]+\}/g, () => spec.pathValues[index++] ?? '');
  const path = spec.pathForm ? spec.pathForm(filled) : filled;
  const headers = [...spec.headers];
  if (spec.body && spec.body.contentType !== null) {
    headers.push(['Content-Type', spec.body.contentType]);
  }
  return {
    method: spec.method ?? operation.method,
    target: spec.query ? `${path}?${spec.query}` : path,
    headers,
    body: spec.body?.payload,
  };
}

/** A request as a failure report shows it: every part, long values cut. */
export function describeRequest(request: RawRequest, bodyLabel?: string): string {
  const cut = (text: string, max: number) =>
    text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
  const lines = [
    `${JSON.stringify(request.method)} ${JSON.stringify(cut(request.target, 300))}`,
    ...request.headers.map(
      ([name, value]) => `  ${JSON.stringify(name)}: ${JSON.stringify(cut(value, 120))}`,
    ),
  ];
  if (request.body !== undefined) {
    lines.push(
      `  body${bodyLabel ? ` (${bodyLabel})` : ''}: ${JSON.stringify(cut(request.body.toString('utf8'), 400))}`,
    );
  }
  return lines.join('\n');
}
