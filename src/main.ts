import 'reflect-metadata';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { followPrimarySignals, runPrimary, setupFromPrimary } from './cluster.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { configureApp, fastifyOptions } from './configure-app.js';
import { shutdownOnSignals } from './common/draining.js';
import { createPinoLogger, PinoLoggerService } from './common/pino-logger.js';
import { ShutdownTasks } from './common/shutdown-tasks.js';
import type { EmbeddedDatabase } from './database/embedded-postgres.js';
import { DemoSeeder } from './demo/demo-seeder.service.js';
import { demoCredentialsFile, publishDemoCredentials, resolveDatabase } from './local-setup.js';
import { reportMetricsToPrimary } from './metrics/cluster-metrics.js';
import { Metrics } from './metrics/metrics.service.js';

let logger: PinoLoggerService | undefined;

async function bootstrap(): Promise<void> {
  const loaded = loadConfig();
  logger = new PinoLoggerService(await createPinoLogger(loaded));
  // Lines written before the application exists (the embedded Postgres's) go through pino too.
  Logger.overrideLogger(logger);
  if (cluster.isPrimary && loaded.webConcurrency > 1) return runPrimary(loaded);
  if (cluster.isWorker) {
    // The primary prepared the database and serves the aggregated metrics.
    const primary = followPrimarySignals();
    const setup = await setupFromPrimary();
    const config = { ...loaded, adminToken: setup.adminToken, metricsPort: null };
    const app = await startApp(config, setup.url, setup.seedDemo);
    reportMetricsToPrimary(app.get(Metrics).registry);
    primary.serving();
    return;
  }
  const { config, url, embedded } = await resolveDatabase(loaded);
  const seedDemo = embedded !== null && !existsSync(demoCredentialsFile(config));
  await startApp(config, url, seedDemo, embedded);
}

async function startApp(
  config: AppConfig,
  url: string,
  seedDemo: boolean,
  embedded: EmbeddedDatabase | null = null,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(config, url),
    new FastifyAdapter(fastifyOptions(config)),
    { logger, bodyParser: false },
  );
  configureApp(app);
  shutdownOnSignals(app, config.shutdownGraceMs);
  if (embedded) app.get(ShutdownTasks).add(() => embedded.stop());
  if (seedDemo) await publishDemoCredentials(config, await app.get(DemoSeeder).seed());
  await app.listen(config.port, config.host);
  new Logger('Bootstrap').log(
    `Listening on http://localhost:${config.port} (API under /api, explorer at /docs)`,
  );
  return app;
}

bootstrap().catch((error: unknown) => {
  const message =
    error instanceof ConfigError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  if (logger) logger.fatal(`Failed to start: ${message}`, 'Bootstrap');
  else process.stderr.write(`Failed to start: ${message}\n`);
  process.exit(1);
});
