import {
  HOSTILE_VALUES,
  JsonEntries,
  RawJson,
  jsonBody,
  poolFor,
  type CaseSpec,
  type FuzzWorld,
  type Operation,
  type Schema,
} from './fuzz-requests.js';

/**
 * A body that passes the schema as far as types go: required fields only, from examples and
 * existing ids. Hostile values are then put in its place, one kind at a time.
 */
export function baselineBody(schema: Schema, world: FuzzWorld): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (!(schema.required ?? []).includes(key)) continue;
    body[key] = baselineValue(child, world, key);
  }
  return body;
}

function baselineValue(schema: Schema, world: FuzzWorld, name: string): unknown {
  if (schema.enum?.length) return schema.enum[0];
  if (schema.example !== undefined) return schema.example;
  switch (schema.type) {
    case 'string':
      if (schema.format === 'uuid') return world.allIds[0];
      if (/model/.test(name)) return world.model;
      return 'fuzz'.padEnd(schema.minLength ?? 0, 'z');
    case 'number':
    case 'integer':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    default:
      return schema.properties ? baselineBody(schema, world) : {};
  }
}

function fieldsOfType(schema: Schema | undefined, types: string[]): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, child]) => types.includes(child.type ?? '') && !child.enum)
    .map(([key]) => key);
}

const byLabel = (label: string) =>
  HOSTILE_VALUES.find((value) => value instanceof RawJson && value.label === label)!;
const NUMBERS = [
  ...['1e400', '-1e400', '1e-400', '-0', '2^53+1', '30 digits', 'NaN', 'Infinity'].map(byLabel),
  ...[
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    1e21,
    1e15 + 0.5,
    1e-12,
    -1,
    0.5,
    2 ** 31,
    2 ** 63,
  ],
];
const STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00',
  '',
  '\ud83d\ude00\u202e\u0301',
  'x'.repeat(10_000),
  'x'.repeat(1024 * 1024),
];
const NESTED = ['10000 nested arrays', '10000 nested objects'].map(byLabel);

/**
 * The inputs every route gets on every run, before the generated ones: each hostile number,
 * string and nesting in the body's fields, prototype keys, an oversized body, the wrong media
 * types, oversized and malformed headers, and odd path parameters and query strings. All with
 * valid credentials, so they get past authentication.
 */
export function examplesFor(operation: Operation, world: FuzzWorld): CaseSpec[] {
  const credentials: [string, string][] =
    operation.auth === 'admin'
      ? [['Authorization', `Bearer ${world.adminToken}`]]
      : operation.auth === 'guard'
        ? [
            ['SecretKey', world.secretKey],
            ['Authorization', world.apiKey],
          ]
        : [];
  const pathValues = operation.pathParams.map((param) =>
    encodeURIComponent(poolFor(operation, param.name, world)[0]),
  );
  const base: CaseSpec = { pathValues, query: '', headers: credentials };
  const schema = operation.body;
  const valid = schema ? baselineBody(schema, world) : {};
  const withFields = (fields: string[], value: unknown) =>
    new JsonEntries([
      ...Object.entries(valid).filter(([key]) => !fields.includes(key)),
      ...fields.map((key): [string, unknown] => [key, value]),
    ]);

  const cases: CaseSpec[] = [{ ...base, body: schema ? jsonBody(valid, 'baseline') : undefined }];
  const body = (value: unknown, label: string, contentType?: string) =>
    cases.push({ ...base, body: jsonBody(value, label, contentType) });

  const numeric = fieldsOfType(schema, ['number', 'integer']);
  const textual = fieldsOfType(schema, ['string']);
  const all = Object.keys(schema?.properties ?? {});
  for (const value of NUMBERS) {
    body(
      withFields(numeric.length ? numeric : ['n'], value),
      `numbers: ${(value as RawJson).label}`,
    );
  }
  for (const value of STRINGS) {
    body(withFields(textual.length ? textual : ['s'], value), `strings: ${value.length} chars`);
  }
  for (const value of NESTED) {
    body(value, (value as RawJson).label);
    body(withFields(all.length ? all : ['a'], value), `fields: ${(value as RawJson).label}`);
  }
  // One field at a time as null: refused, or taken as absent or cleared, never a 500.
  for (const key of all) body(withFields([key], null), `null: ${key}`);
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    body(new JsonEntries([[key, { polluted: true }], ...Object.entries(valid)]), `key ${key}`);
  }
  body(
    new JsonEntries([...Object.entries(valid), ['__proto__', { toString: 1, valueOf: 1 }]]),
    'key __proto__ last',
  );
  body(valid, 'text/plain', 'text/plain');
  body(valid, 'form', 'application/x-www-form-urlencoded');
  const overLimit = Buffer.alloc(world.bodyLimitBytes + 1, ' ');
  overLimit.write(JSON.stringify(valid).slice(0, -1) + ',"pad":"', 0);
  overLimit.write('"}', overLimit.length - 2);
  cases.push({
    ...base,
    body: { label: 'over the body limit', contentType: 'application/json', payload: overLimit },
  });

  const headers = (extra: [string, string][]) =>
    cases.push({ ...base, headers: [...base.headers, ...extra], body: cases[0].body });
  headers([['Authorization', `sk-${'a'.repeat(20 * 1024)}`]]);
  headers([['X-Padding', 'a'.repeat(20 * 1024)]]);
  headers([['Authorization', 'sk-other']]);
  headers([['X-Ctl', 'a\u0001b']]);
  headers([['SecretKey', 'ss-\u00ff\u00e9']]);

  if (operation.pathParams.length) {
    for (const odd of [
      '%00',
      'a'.repeat(5000),
      '%F0%9F%98%80',
      '\u00e9t\u00e9',
      '%ED%A0%80',
      '%ZZ',
    ]) {
      cases.push({ ...base, pathValues: pathValues.map(() => odd), body: cases[0].body });
    }
  }
  if (operation.queryParams.length) {
    const names = operation.queryParams.map((param) => param.name);
    cases.push({ ...base, query: names.map((name) => `${name}=1&${name}=2`).join('&') });
    cases.push({ ...base, query: names.map((name) => `${name}[]=1`).join('&') });
    cases.push({ ...base, query: `__proto__[polluted]=1&constructor[prototype][polluted]=1` });
    cases.push({ ...base, query: names.map((name) => `${name}=%00`).join('&') });
  }
  return cases;
}
