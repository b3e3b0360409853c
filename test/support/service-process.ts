import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** The built service (`dist/main.js`, which `npm test` builds first) as a child process. */
export interface ServiceProcess {
  readonly port: number;
  readonly baseUrl: string;
  readonly pid: number;
  /** What it has written to stdout and stderr so far. */
  output(): string;
  running(): boolean;
  /** Resolves when the process exits: its exit code or signal, at `performance.now()`. */
  readonly exited: Promise<ServiceExit>;
  /** Resolves once GET /api/health/ready answers 200; the milliseconds it took. */
  ready(timeoutMs?: number): Promise<number>;
  /** Sends the signal, without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** Sends the signal and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM if still running, SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** Every service a test file started that has not exited yet. */
const live = new Set<ChildProcess>();

/**
 * Kills, with SIGKILL, every service this test file started that is still running, and says
 * which: called after each file (test/support/after-file.ts), so a test that failed before it
 * stopped its service cannot keep Jest from exiting.
 */
export async function killLeftoverServices(): Promise<void> {
  const leftovers = [...live];
  for (const child of leftovers) {
    process.stderr.write(`killing service pid ${child.pid}, left running by a test\n`);
    child.kill('SIGKILL');
  }
  await Promise.all(
    leftovers.map(
      (child) =>
        new Promise((resolve) => (live.has(child) ? child.once('exit', resolve) : resolve(null))),
    ),
  );
}

/** Starts `node dist/main.js` with `env` over this process's environment, on `port`. */
export function spawnService(port: number, env: Record<string, string>): ServiceProcess {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    ...env,
  };
  childEnv.PORT = String(port);
  // Jest's ESM flag is not the service's business.
  delete childEnv.NODE_OPTIONS;
  const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<ServiceExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    port,
    baseUrl,
    pid: child.pid ?? -1,
    output: () => output,
    running,
    exited,
    signal: (signal) => void child.kill(signal),
    async ready(timeoutMs = 60_000) {
      const started = Date.now();
      while (Date.now() - started < timeoutMs) {
        if (!running()) throw new Error(`service exited before it was ready:\n${output}`);
        try {
          const response = await fetch(`${baseUrl}/api/health/ready`, {
            signal: AbortSignal.timeout(2000),
          });
          await response.arrayBuffer();
          if (response.status === 200) return Date.now() - started;
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`service not ready after ${timeoutMs} ms:\n${output}`);
    },
    async kill(signal) {
      if (!running()) return;
      child.kill(signal);
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Each Jest worker draws ports from its own block of this many. */
const PORT_BLOCK = 1500;
/** Below Linux's ephemeral range (32768–60999), which outgoing connections take ports from. */
const FIRST_PORT = 20_000;
let portCursor = Math.floor(Math.random() * PORT_BLOCK);

/**
 * A TCP port nothing listens on right now, for a process this test starts. A port the kernel
 * hands out for `listen(0)` comes from the ephemeral range, and under load an outgoing
 * connection can take it between the probe and the child's listen (EADDRINUSE). These come
 * from below that range, from a block of the Jest worker's own, so neither outgoing
 * connections nor a parallel suite pick the same one.
 */
export async function freePort(): Promise<number> {
  const worker = Math.max(0, Number(process.env.JEST_WORKER_ID ?? 1) - 1) % 8;
  const first = FIRST_PORT + worker * PORT_BLOCK;
  for (let tried = 0; tried < PORT_BLOCK; tried += 1) {
    const port = first + (portCursor++ % PORT_BLOCK);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${first}–${first + PORT_BLOCK - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
