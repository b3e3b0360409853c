import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig } from './config/app-config.js';
import { runMigrations } from './database/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';
import type { DemoCredentials } from './demo/demo-seeder.service.js';

export interface LocalDatabase {
  config: AppConfig;
  url: string;
  embedded: EmbeddedDatabase | null;
}

/**
 * The database the service runs on: DATABASE_URL when set, else the embedded Postgres under
 * DATA_DIR, migrated, with an admin token of its own when ADMIN_TOKEN is unset.
 */
export async function resolveDatabase(config: AppConfig): Promise<LocalDatabase> {
  if (config.database.url) return { config, url: config.database.url, embedded: null };
  const embedded = await startEmbeddedPostgres(config.dataDir);
  await runMigrations(config.database, embedded.url);
  const adminToken = config.adminToken ?? (await localAdminToken(config.dataDir));
  return { config: { ...config, adminToken }, url: embedded.url, embedded };
}

async function localAdminToken(dataDir: string): Promise<string> {
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const token = randomBytes(24).toString('hex');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export function demoCredentialsFile(config: AppConfig): string {
  return join(config.dataDir, 'demo-credentials.json');
}

/**
 * Writes the demo's secrets to DATA_DIR (owner-only) and shows them this once. An admin token
 * taken from the environment (`ADMIN_TOKEN`) is neither written nor shown: only one this
 * process created for the embedded Postgres is.
 */
export async function publishDemoCredentials(
  config: AppConfig,
  credentials: DemoCredentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const fromEnvironment =
    credentials.admin_token !== null && credentials.admin_token === env.ADMIN_TOKEN?.trim();
  const published = fromEnvironment ? { ...credentials, admin_token: null } : credentials;
  const adminLine = fromEnvironment
    ? '(the ADMIN_TOKEN of the environment)'
    : (credentials.admin_token ?? '(ADMIN_TOKEN unset: admin API disabled)');
  const file = demoCredentialsFile(config);
  // Against DATABASE_URL in a fresh checkout, DATA_DIR may not exist yet.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(published, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(
    [
      '',
      'Demo data created. These secrets are shown once; they are also in',
      `  ${file}`,
      '',
      `  Authorization:        ${credentials.api_key}`,
      `  SecretKey:            ${credentials.secret_key}`,
      `  Swarms-Organization:  ${credentials.organization_public_id}`,
      `  model:                ${credentials.model}`,
      `  admin token:          ${adminLine}`,
      '',
      '',
    ].join('\n'),
  );
}
