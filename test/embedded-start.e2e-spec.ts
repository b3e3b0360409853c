import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedUsageBody } from './support/factories.js';
import { freePort } from './support/service-process.js';

/** `npm start` without DATABASE_URL: the built service on its own embedded Postgres. */
describe('start without DATABASE_URL', () => {
  let dataDir: string;
  let port: number;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'guard-embedded-'));
    port = await freePort();
  });

  afterAll(async () => {
    await stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function start(): void {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
    };
    for (const name of ['DATABASE_URL', 'ADMIN_TOKEN', 'NODE_OPTIONS', 'NODE_ENV'])
      delete env[name];
    output = '';
    child = spawn(process.execPath, ['dist/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
  }

  async function stop(): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async function waitUntilReady(): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < 90_000) {
      if (child?.exitCode !== null) throw new Error(`service exited:\n${output}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/api/health/ready`);
        if (response.status === 200) return Date.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`not ready after 90 s:\n${output}`);
  }

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('starts, seeds a demo once, and answers the seed requests with its credentials', async () => {
    start();
    const coldMs = await waitUntilReady();
    process.stdout.write(`cold start with a new embedded Postgres: ${coldMs} ms\n`);

    const credentials = JSON.parse(await readFile(join(dataDir, 'demo-credentials.json'), 'utf8'));
    expect(credentials).toEqual({
      api_key: expect.stringMatching(/^sk-[0-9a-f]{64}$/),
      secret_key: expect.any(String),
      admin_token: expect.any(String),
      organization_public_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      model: 'cogvlm-chat-17b',
      user_id: expect.any(String),
    });
    expect(output).toContain(credentials.api_key);

    const headers = { Authorization: credentials.api_key, SecretKey: credentials.secret_key };
    const auth = await post(
      '/api/guard/auth',
      { model: credentials.model, messages: seedUsageBody().messages },
      headers,
    );
    expect(auth.status).toBe(200);
    expect(await auth.json()).toMatchObject({ message: 'Success' });

    const usage = await post('/api/guard/log-usage', seedUsageBody(), headers);
    expect(usage.status).toBe(201);
    expect(await usage.json()).toMatchObject({ message: 'Success', cost: { total: 0.00009 } });

    const organization = await post(
      '/api/guard/auth',
      { model: credentials.model },
      {
        ...headers,
        'Swarms-Organization': credentials.organization_public_id,
      },
    );
    expect(organization.status).toBe(200);

    const models = await fetch(`http://127.0.0.1:${port}/api/admin/models`, {
      headers: { Authorization: `Bearer ${credentials.admin_token}` },
    });
    expect(models.status).toBe(200);
  });

  it('reuses its data on the next start, without a second demo', async () => {
    const before = await readFile(join(dataDir, 'demo-credentials.json'), 'utf8');
    await stop();
    start();
    const warmMs = await waitUntilReady();
    process.stdout.write(`start on existing embedded data: ${warmMs} ms\n`);
    expect(await readFile(join(dataDir, 'demo-credentials.json'), 'utf8')).toBe(before);
    expect(output).not.toContain('Demo data created');

    const credentials = JSON.parse(before);
    const auth = await post(
      '/api/guard/auth',
      { model: credentials.model },
      {
        Authorization: credentials.api_key,
        SecretKey: credentials.secret_key,
      },
    );
    expect(auth.status).toBe(200);
    // The usage logged before the restart is still charged.
    expect(((await auth.json()) as any).credit.remaining).toBe(9.99991);
  });

  it('moves its Postgres to another port when another program took the kept one', async () => {
    const settingsFile = join(dataDir, 'embedded-postgres.json');
    const { port: kept } = JSON.parse(await readFile(settingsFile, 'utf8'));
    await stop();
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(kept, '127.0.0.1', resolve));
    try {
      start();
      await waitUntilReady();
      const { port: moved } = JSON.parse(await readFile(settingsFile, 'utf8'));
      expect(moved).not.toBe(kept);
      expect(moved).toBeLessThan(32768);
      expect(output).toContain(`Port ${kept} is taken by another program`);

      // The same cluster: the demo key and its balance are still there.
      const credentials = JSON.parse(
        await readFile(join(dataDir, 'demo-credentials.json'), 'utf8'),
      );
      const auth = await post(
        '/api/guard/auth',
        { model: credentials.model },
        { Authorization: credentials.api_key, SecretKey: credentials.secret_key },
      );
      expect(auth.status).toBe(200);
      expect(((await auth.json()) as any).credit.remaining).toBe(9.99991);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('stops its Postgres when it is stopped', async () => {
    const { port: pgPort } = JSON.parse(
      await readFile(join(dataDir, 'embedded-postgres.json'), 'utf8'),
    );
    await stop();
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(pgPort, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
