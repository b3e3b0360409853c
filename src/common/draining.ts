import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './all-exceptions.filter.js';
import { DomainError } from './error-codes.js';

/** Answers while draining: the process is still up (a probe that fails here would kill it). */
const LIVENESS_ROUTE = '/api/health/live';
const RETRY_AFTER_SECONDS = 1;
/** How long a drain keeps idle keep-alive connections open for their clients' next request. */
const LINGER_MS = 500;

const logger = new Logger('Shutdown');
const drainings = new WeakMap<NestFastifyApplication, Draining>();

/** A request being handled: its reply, and since when (`performance.now()`). */
interface OpenRequest {
  reply: FastifyReply;
  since: number;
}

/**
 * The draining state of one application. Until {@link start}, requests are counted while they
 * are handled; from then on new ones are refused with the contract's 503 (`Retry-After`,
 * `Connection: close`), readiness included, and every answer closes its connection.
 */
export class Draining {
  private readonly open = new Map<FastifyRequest, OpenRequest>();
  private readonly connections = new Set<Socket>();
  private startedAt: number | null = null;
  private onChange: (() => void)[] = [];
  /** Requests still being handled when draining started, and new ones refused since. */
  readonly counts = { inFlightAtStart: 0, refused: 0 };

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.once('close', () => {
        this.connections.delete(socket);
        this.changed();
      });
    });
  }

  get active(): boolean {
    return this.startedAt !== null;
  }

  start(): void {
    if (this.startedAt !== null) return;
    this.startedAt = performance.now();
    this.counts.inFlightAtStart = this.open.size;
    // Answers still to come, to requests admitted before, close their connection too.
    for (const { reply } of this.open.values()) void reply.header('connection', 'close');
  }

  /** Resolves once no admitted request is being handled. */
  answered(): Promise<void> {
    return this.until(() => this.open.size === 0);
  }

  /**
   * Resolves once every connection has closed, or {@link LINGER_MS} after the start. While
   * draining, a keep-alive connection closes after its next answer; one still open then has
   * been idle since before the drain, and the server can close it with little risk of
   * crossing a request its client is sending.
   */
  disconnected(): Promise<void> {
    const left = (this.startedAt ?? performance.now()) + LINGER_MS - performance.now();
    return this.until(() => this.connections.size === 0, left);
  }

  /** onRequest: admits and counts the request, or refuses it while draining. */
  handle(request: FastifyRequest, reply: FastifyReply): boolean {
    if (this.active) {
      void reply.header('connection', 'close');
      if (request.routeOptions.url !== LIVENESS_ROUTE) return this.refuse(request, reply);
    }
    this.open.set(request, { reply, since: performance.now() });
    // Finished, or its connection gone: either way nothing more can be answered to it.
    reply.raw.once('close', () => {
      this.open.delete(request);
      this.changed();
    });
    return true;
  }

  /** The requests being handled now, oldest first, with how long they have been. */
  openRequests(): { id: string; method: string; route: string | null; ms: number }[] {
    const now = performance.now();
    return [...this.open].map(([request, { since }]) => ({
      id: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? null,
      ms: Math.round(now - since),
    }));
  }

  private refuse(request: FastifyRequest, reply: FastifyReply): false {
    this.counts.refused++;
    sendError(
      reply,
      request,
      new DomainError('service_unavailable', 'The service is shutting down', {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      }),
      logger,
    );
    return false;
  }

  private until(condition: () => boolean, timeoutMs = Infinity): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        if (!condition()) return void this.onChange.push(check);
        clearTimeout(timer);
        resolve();
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => {
            this.onChange = this.onChange.filter((waiting) => waiting !== check);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
      check();
    });
  }

  private changed(): void {
    // Called as every request ends; only a drain waits on it.
    if (this.onChange.length === 0) return;
    for (const check of this.onChange.splice(0)) check();
  }
}

/** Counts requests and refuses new ones once the application drains (see {@link Draining}). */
export function registerDraining(app: NestFastifyApplication): Draining {
  const fastify = app.getHttpAdapter().getInstance();
  const draining = new Draining(fastify.server);
  // A callback hook, not an async one: it runs on every request, and costs less this way.
  fastify.addHook('onRequest', (request, reply, done) => {
    // A refused request has its answer sent already: nothing more runs for it.
    if (draining.handle(request, reply)) done();
  });
  drainings.set(app, draining);
  return draining;
}

/**
 * On SIGTERM (or SIGINT, SIGHUP): drains, then closes the application (open ledger batches,
 * the HTTP server, the database) and exits 0. Whatever is still running `graceMs` after the
 * signal, or at a second signal, is logged and the process exits 1.
 */
export function shutdownOnSignals(app: NestFastifyApplication, graceMs: number): void {
  const draining = drainings.get(app);
  if (!draining) throw new Error('registerDraining(app) must run before shutdownOnSignals(app)');
  let stage: 'running' | 'draining' | 'closing' = 'running';
  let signalledAt = 0;

  const exitAnyway = (why: string) => {
    const open = draining.openRequests();
    logger.error({
      msg:
        `${why} after ${Math.round(performance.now() - signalledAt)} ms, while ${stage}: ` +
        `exiting with ${open.length} request(s) unanswered`,
      dropped: open,
    });
    process.exit(1);
  };

  const shutDown = async (signal: NodeJS.Signals) => {
    signalledAt = performance.now();
    // Not unref'd: a shutdown step stuck on a promise alone must still end in this exit.
    setTimeout(() => exitAnyway(`Grace period of ${graceMs} ms over`), graceMs);
    stage = 'draining';
    draining.start();
    logger.log(
      `${signal}: draining ${draining.counts.inFlightAtStart} request(s) in flight; ` +
        `new requests answer 503 (grace ${graceMs} ms)`,
    );
    await draining.answered();
    const answeredMs = Math.round(performance.now() - signalledAt);
    await draining.disconnected();
    stage = 'closing';
    // No new connections from here on (the idle ones left are closed): nothing reaches the
    // HTTP server while the application closes.
    (app.getHttpServer() as Server).close();
    await app.close();
    logger.log(
      `Shut down in ${Math.round(performance.now() - signalledAt)} ms: ` +
        `${draining.counts.inFlightAtStart} request(s) in flight answered in ${answeredMs} ms, ` +
        `${draining.counts.refused} refused with 503`,
    );
    process.exit(0);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stage !== 'running') return exitAnyway(`Second signal (${signal})`);
    shutDown(signal).catch((error: unknown) => {
      logger.error({
        msg: `Shutdown failed: ${error instanceof Error ? error.message : String(error)}`,
        stack: error instanceof Error ? error.stack : undefined,
      });
      process.exit(1);
    });
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
}
