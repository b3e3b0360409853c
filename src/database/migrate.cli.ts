import 'reflect-metadata';
import { loadConfig } from '../config/app-config.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { runMigrations } from './migrations.js';

/** `npm run migration:run`: migrates DATABASE_URL, or the embedded Postgres when it is unset. */
async function main(): Promise<void> {
  const config = loadConfig();
  const embedded = config.database.url ? null : await startEmbeddedPostgres(config.dataDir);
  try {
    const applied = await runMigrations(config.database, config.database.url ?? embedded!.url);
    process.stdout.write(
      applied.length ? `Applied: ${applied.join(', ')}\n` : 'No pending migrations.\n',
    );
  } finally {
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Migration failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
