import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config/app-config.js';
import { publishDemoCredentials, resolveDatabase } from '../local-setup.js';
import { DemoSeeder } from './demo-seeder.service.js';

/** `npm run seed:demo`: adds the demo data to DATABASE_URL (or the embedded Postgres). */
async function main(): Promise<void> {
  const { config, url, embedded } = await resolveDatabase(loadConfig());
  const context = await NestFactory.createApplicationContext(AppModule.register(config, url), {
    logger: ['error', 'warn'],
  });
  try {
    await publishDemoCredentials(config, await context.get(DemoSeeder).seed());
  } finally {
    await context.close();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Seeding failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
