import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config/app-config.js';
import { configureApp } from '../configure-app.js';
import { createOpenApiDocument } from './openapi-document.js';

// Never connected to: in preview mode no provider is created, so nothing opens a connection.
const NO_DATABASE = 'postgres://openapi@127.0.0.1:1/openapi';

/**
 * The document the service serves at `/docs/openapi.json`, built without a database: the
 * application is assembled in preview mode (modules and controllers, no providers) and
 * configured as `main.ts` does.
 */
export async function buildOfflineOpenApiDocument(): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(loadConfig({}), NO_DATABASE),
    new FastifyAdapter(),
    { preview: true, abortOnError: false, logger: ['error'], bodyParser: false },
  );
  try {
    configureApp(app);
    return createOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
