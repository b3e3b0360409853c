import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import pg from 'pg';
import { AppModule } from '../../src/app.module.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { configureApp, fastifyOptions } from '../../src/configure-app.js';
import { MetricsServer } from '../../src/metrics/metrics.server.js';
import { createTestDatabase } from './database.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef01';

export interface TestApp {
  app: NestFastifyApplication;
  /** Base URL of the listening service, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  /** A pool on the same database, for asserting what is stored. */
  db: pg.Pool;
  databaseUrl: string;
  config: AppConfig;
  /** Where its Prometheus metrics are served (null when `METRICS_PORT=off`). */
  metricsUrl: string | null;
  close(): Promise<void>;
}

/**
 * The whole service on a fresh database (or, with `databaseUrl`, beside another instance on
 * that one), listening on a free port, configured as main.ts does.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: { databaseUrl?: string } = {},
): Promise<TestApp> {
  const database = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  // A metrics port of its own per app, so apps run side by side.
  const config = loadConfig({ ADMIN_TOKEN, METRICS_PORT: '0', ...env });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.register(config, database.url)],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(
    new FastifyAdapter(fastifyOptions(config)),
    { bodyParser: false, logger: ['error', 'warn'] },
  );
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const db = new pg.Pool({ connectionString: database.url, max: 4 });
  const metricsPort = app.get(MetricsServer).port;
  return {
    app,
    baseUrl: await app.getUrl().then((url) => url.replace('[::1]', '127.0.0.1')),
    db,
    databaseUrl: database.url,
    config,
    metricsUrl: metricsPort === null ? null : `http://127.0.0.1:${metricsPort}/metrics`,
    close: async () => {
      await db.end();
      await app.close();
      await database.drop();
    },
  };
}
