import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyServerOptions } from 'fastify';
import {
  AllExceptionsFilter,
  sendError,
  writeClientError,
} from './common/all-exceptions.filter.js';
import { serializeJson } from './common/decimal.js';
import { registerDraining } from './common/draining.js';
import { registerJsonParser } from './common/json-body.js';
import { logRequest, registerRequestLog } from './common/request-log.js';
import { DtoValidationPipe } from './common/validation.pipe.js';
import type { AppConfig } from './config/app-config.js';
import { registerDashboard } from './dashboard/serve-dashboard.js';
import { Metrics } from './metrics/metrics.service.js';
import { createOpenApiDocument } from './openapi/openapi-document.js';

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
const frameworkLogger = new Logger('Http');

/** Fastify's own options: body limit and the request id (the caller's `X-Request-Id` when sane). */
export function fastifyOptions(config: AppConfig): FastifyServerOptions {
  return {
    bodyLimit: config.bodyLimitBytes,
    logger: false,
    // Model names of up to 200 characters, percent-encoded, fit in a path parameter.
    routerOptions: { maxParamLength: 1000 },
    // Errors Fastify raises before routing (a malformed URL, say) get the contract's body too.
    frameworkErrors: (error, request, reply) => {
      // No request hook runs for these: the line is logged once the answer is written.
      reply.raw.once('finish', () => logRequest(request, reply));
      sendError(reply, request, error, frameworkLogger);
    },
    // And what Node's HTTP parser refuses before any request exists (431 for oversized headers).
    clientErrorHandler: writeClientError,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  };
}

/** Everything about the HTTP surface, in one place: main.ts and every e2e test call it. */
export function configureApp(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  registerJsonParser(fastify);
  fastify.setReplySerializer((payload) => serializeJson(payload));
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  registerRequestLog(fastify, app.get(Metrics));
  registerDashboard(fastify);

  app.setGlobalPrefix('api');
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(new DtoValidationPipe());
  registerDraining(app);

  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
  });
}
