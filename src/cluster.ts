import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import type { AppConfig } from './config/app-config.js';
import { demoCredentialsFile, resolveDatabase } from './local-setup.js';
import { serveClusterMetrics } from './metrics/cluster-metrics.js';

/** What a worker needs from the primary before it builds the application. */
export interface WorkerSetup {
  /** The database every worker connects to (the embedded one the primary started, or DATABASE_URL). */
  url: string;
  /** The admin token (the embedded setup's own when ADMIN_TOKEN is unset). */
  adminToken: string | undefined;
  /** Seed and publish the demo data: one worker only, on an embedded Postgres seen for the first time. */
  seedDemo: boolean;
}

const SETUP_REQUEST = 'guard:setup-request';
const SETUP = 'guard:setup';
const SHUTDOWN = 'guard:shutdown';
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** A worker that dies sooner than this after its start is restarted after {@link RESTART_DELAY_MS}. */
const EARLY_EXIT_MS = 5000;
const RESTART_DELAY_MS = 1000;
/** Past the workers' own grace period, how long the primary waits before killing them. */
const KILL_AFTER_GRACE_MS = 2000;

type SetupMessage = { type: typeof SETUP } & WorkerSetup;
type ShutdownMessage = { type: typeof SHUTDOWN; signal: NodeJS.Signals; count: number };

const logger = new Logger('Cluster');

/**
 * The primary of `WEB_CONCURRENCY` > 1: prepares the database once (the embedded Postgres and
 * its migrations, when DATABASE_URL is unset), forks the workers, each of which runs the whole
 * application on the shared port, and serves the workers' metrics, aggregated, on METRICS_PORT.
 * A worker that exits while the primary is not shutting down is replaced. SIGTERM, SIGINT or
 * SIGHUP are passed on to every worker, which drains as a single process does; the primary
 * then stops the embedded Postgres and exits 0 when every worker exited 0, else 1.
 */
export async function runPrimary(config: AppConfig): Promise<void> {
  const { config: resolved, url, embedded } = await resolveDatabase(config);
  let demoPending = embedded !== null && !existsSync(demoCredentialsFile(resolved));
  const metrics =
    config.metricsPort === null ? null : await serveClusterMetrics(config.host, config.metricsPort);
  /** The workers that have not exited, and when each was forked. */
  const startedAt = new Map<Worker, number>();
  let stopping: NodeJS.Signals | null = null;
  let signalCount = 0;
  let failedExits = 0;
  /** Workers that have asked for their setup: their signal handlers are on. */
  const listening = new WeakSet<Worker>();
  /** Workers stopped by a signal before they listened: they had admitted nothing. */
  const stoppedBooting = new WeakSet<Worker>();

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, performance.now());
    worker.on('message', (message: { type?: string }) => {
      if (message?.type !== SETUP_REQUEST) return;
      listening.add(worker);
      // Asked only once its listeners are on: a shutdown sent before then was not heard.
      if (stopping) {
        const shutdown: ShutdownMessage = { type: SHUTDOWN, signal: stopping, count: signalCount };
        return void worker.send(shutdown);
      }
      const setup: SetupMessage = {
        type: SETUP,
        url,
        adminToken: resolved.adminToken,
        seedDemo: demoPending,
      };
      demoPending = false;
      worker.send(setup);
    });
  };

  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    await metrics?.close();
    await embedded?.stop();
    logger.log(
      failedExits === 0
        ? 'Every worker has exited: shut down'
        : `Shut down; ${failedExits} worker(s) exited with an error`,
    );
    process.exit(failedExits === 0 ? 0 : 1);
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = performance.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (stopping) {
      if (code !== 0 && !(stoppedBooting.has(worker) && signal === 'SIGTERM')) failedExits++;
      logger.log(`Worker ${worker.process.pid} exited with ${how}`);
      // Counted here, not from cluster.workers: a worker whose exit comes before its IPC
      // channel's close stays listed there until then, and no event follows its removal.
      if (startedAt.size === 0) void finish();
      return;
    }
    const delay = lived < EARLY_EXIT_MS ? RESTART_DELAY_MS : 0;
    logger.error(
      `Worker ${worker.process.pid} exited with ${how} after ${Math.round(lived)} ms: ` +
        `starting another${delay ? ` in ${delay} ms` : ''}`,
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  for (const signal of SIGNALS) {
    process.on(signal, () => {
      const again = stopping !== null;
      stopping = signal;
      signalCount++;
      const workers = [...startedAt.keys()];
      logger.log(`${signal}${again ? ' again' : ''}: passing it on to ${workers.length} worker(s)`);
      const message: ShutdownMessage = { type: SHUTDOWN, signal, count: signalCount };
      for (const worker of workers) {
        if (listening.has(worker)) {
          if (worker.isConnected()) worker.send(message);
        } else if (!again) {
          // Still loading its code, which can take seconds on a busy machine: a message would
          // wait for its setup request, while the signal ends it now (or, once its handlers are
          // on, makes it exit as a worker that was starting does).
          stoppedBooting.add(worker);
          worker.process.kill('SIGTERM');
        }
      }
      if (startedAt.size === 0) void finish();
      if (again) return;
      setTimeout(() => {
        for (const worker of startedAt.keys()) {
          logger.error(`Worker ${worker.process.pid} still running past the grace period: killed`);
          worker.process.kill('SIGKILL');
        }
      }, config.shutdownGraceMs + KILL_AFTER_GRACE_MS).unref();
    });
  }

  logger.log(`Primary ${process.pid}: starting ${config.webConcurrency} workers`);
  for (let i = 0; i < config.webConcurrency; i++) fork();
}

/** In a worker: asks the primary for the database and waits for the answer. */
export function setupFromPrimary(): Promise<WorkerSetup> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== SETUP) return;
      process.off('message', onMessage);
      const { url, adminToken, seedDemo } = message as SetupMessage;
      resolve({ url, adminToken, seedDemo });
    };
    process.on('message', onMessage);
    process.send!({ type: SETUP_REQUEST });
  });
}

/**
 * In a worker: the primary's shutdown messages, or the loss of the primary, raise the signal in
 * this process, so the handlers of `shutdownOnSignals` drain it as they do on a real signal.
 * Each message carries how many signals the primary has had; a worker that has had as many
 * already (Ctrl-C and systemd signal the whole process group) raises none, so one Ctrl-C is
 * never taken for two. Until {@link serving} is called (the application listens, its drain is
 * set up) a signal or a shutdown message ends the worker at once: nothing was admitted yet.
 */
export function followPrimarySignals(): { serving(): void } {
  let serving = false;
  let signals = 0;
  const exitIfStarting = (why: string) => {
    if (serving) return;
    logger.log(`${why} while starting: exiting`);
    process.exit(0);
  };
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      signals++;
      exitIfStarting(signal);
    });
  }
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== SHUTDOWN) return;
    const { signal, count } = message as ShutdownMessage;
    exitIfStarting(signal);
    if (signals < count) process.emit(signal, signal);
  });
  process.on('disconnect', () => {
    exitIfStarting('Primary gone');
    if (signals === 0) process.emit('SIGTERM', 'SIGTERM');
  });
  return { serving: () => void (serving = true) };
}
