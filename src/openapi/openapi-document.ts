import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  getSchemaPath,
  SwaggerModule,
  type OpenAPIObject,
  type OperationObject,
  type ReferenceObject,
  type ResponseObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { AuthRequestDto } from '../auth/dto/auth-request.dto.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';

const DESCRIPTION = `API-key guard and usage metering for an LLM API platform.

Model servers call \`POST /api/guard/auth\` before each completion and \`POST /api/guard/log-usage\` after it, with \`SecretKey\` (the calling service), \`Authorization\` (the end user's \`sk-…\` key, or \`Bearer sk-…\`) and optionally \`Swarms-Organization\` (the public_id of the organization to bill; its owner pays).

**Errors.** Every 4xx and 5xx answer is JSON: \`{"status", "message", "code", "request_id"}\`, plus \`errors\` (one entry per field) on \`validation_failed\`. Switch on \`code\`; \`message\` is for people. A 4xx changes nothing. \`Retry-After\` (whole seconds) comes with 429 and with a 503 for an unreachable database.

**Numbers.** Request numbers must be JSON numbers (\`"12"\` is refused); integer fields refuse fractions. Money is USD, stored exactly (Postgres \`numeric\`) and written as a JSON number with every digit stored, never rounded through a float (\`format: decimal\`): parse it with a decimal-aware JSON parser to keep it exact. Prices are per million tokens.

**Bodies.** Log-usage and admin bodies refuse fields they do not declare (\`additionalProperties: false\`), and admin queries refuse undeclared parameters; auth ignores fields it does not read, since callers forward whole completion requests. \`null\` for an optional guard field means absent.

**Requests.** Every answer carries \`X-Request-Id\`: the caller's own when it is 1 to 128 of \`A-Za-z0-9_.:@/+=-\`, else a new UUID; error bodies repeat it.

**Admin.** Admin routes take \`Authorization: Bearer <ADMIN_TOKEN>\`; without \`ADMIN_TOKEN\` they answer 503 \`admin_disabled\`. Ids in paths that are not UUIDs answer 404. Lists page with \`limit\` and \`cursor\` (the previous page's \`next_cursor\`).

**Servers.** The one server, \`/\`, is where this document is served from: every path already starts with \`/api\`. Behind a proxy that adds a path prefix, put that prefix in front.`;

const REQUEST_ID_HEADER = 'X-Request-Id';

/** Every route: Node's HTTP parser answers it, before any route runs. */
const HEADERS_TOO_LARGE: ResponseObject = {
  description: 'The request headers are larger than Node accepts (16 KiB); nothing was done.',
  content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) } } },
};

function openApiConfig() {
  return new DocumentBuilder()
    .setTitle('Swarms Guard')
    .setVersion('1.0')
    .setDescription(DESCRIPTION)
    .addServer('/', 'This service (the origin that serves this document)')
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'SecretKey',
        description: "The calling service's secret",
      },
      'SecretKey',
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: "The end user's API key: `sk-…` or `Bearer sk-…`",
      },
      'ApiKey',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, 'admin')
    .build();
}

/** Request bodies that accept fields they do not declare (and ignore them). */
const OPEN_BODIES = new Set([AuthRequestDto.name]);

/**
 * The OpenAPI document of the service: what `@nestjs/swagger` reads from the controllers and
 * DTOs, and the rules that hold for every route, written once here.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(app, openApiConfig());
  document.components ??= {};
  document.components.headers = {
    ...document.components.headers,
    [REQUEST_ID_HEADER]: {
      description: "The request's id: the caller's `X-Request-Id` when sane, else a new UUID.",
      required: true,
      schema: { type: 'string' },
    },
  };
  for (const operation of operations(document)) {
    // Deny by default: an operation that names no scheme is one the service opens to anyone.
    operation.security ??= [];
    operation.responses['431'] ??= structuredClone(HEADERS_TOO_LARGE);
    for (const response of Object.values(operation.responses)) {
      if (!response || '$ref' in response) continue;
      response.headers = {
        [REQUEST_ID_HEADER]: { $ref: `#/components/headers/${REQUEST_ID_HEADER}` },
        ...response.headers,
      };
    }
    closeRequestBody(document, operation);
  }
  for (const schema of Object.values(document.components.schemas ?? {})) dropEmptyAnyOf(schema);
  return document;
}

function operations(document: OpenAPIObject): OperationObject[] {
  const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;
  return Object.values(document.paths).flatMap((path) =>
    methods.flatMap((method) => (path[method] ? [path[method]] : [])),
  );
}

/** Validated bodies refuse undeclared fields with 400 `validation_failed`: their schemas say so. */
function closeRequestBody(document: OpenAPIObject, operation: OperationObject): void {
  const body = operation.requestBody;
  if (!body || '$ref' in body) return;
  const ref = body.content['application/json']?.schema;
  if (!ref || !('$ref' in ref)) return;
  const name = ref.$ref.replace('#/components/schemas/', '');
  const schema = document.components?.schemas?.[name];
  if (schema && !('$ref' in schema) && !OPEN_BODIES.has(name)) {
    schema.additionalProperties = false;
  }
}

/** `anyOf: [{}]` (how a decorator writes "any JSON") says nothing: the schema without it is the same. */
function dropEmptyAnyOf(schema: SchemaObject | ReferenceObject): void {
  if ('$ref' in schema) return;
  for (const property of Object.values(schema.properties ?? {})) {
    if ('$ref' in property) continue;
    const anyOf = property.anyOf;
    if (anyOf?.length === 1 && Object.keys(anyOf[0]).length === 0) delete property.anyOf;
  }
}
