import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { DomainError } from '../common/error-codes.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { LimitsMode } from './limits-mode.js';
import type {
  AcquireInput,
  AcquireResult,
  LimitsBackend,
  RateCounter,
  ReleaseInput,
} from './limits-backend.js';
import { MemoryLimitsBackend } from './memory-limits.backend.js';
import { RedisLimitsBackend } from './redis-limits.backend.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

/** The limits a guarded call falls under, as stored on its key and organization. */
export interface LimitSettings {
  apiKeyId: string;
  userId: string;
  key: { rpm: number | null; tpm: number | null; concurrency: number | null; mode: LimitsMode };
  /** The organization the call bills, if any. */
  organization: { id: string; rpm: number | null; tpm: number | null; mode: LimitsMode } | null;
}

/** The limits' answer to an auth call. */
export interface LimitVerdict {
  /** False: answer 429. A shadowed refusal is allowed. */
  allowed: boolean;
  /** The `x-ratelimit-*` headers of the answer. */
  headers: Record<string, string>;
  /** Whole seconds, at least 1, when refused (or refused in shadow). */
  retryAfterSeconds: number;
  /** What was counted, to give back with {@link LimitsService.cancel}; null: nothing was. */
  counted: { reservedTokens: number; requestId: string | undefined; leaseId: string | null } | null;
}

const REDIS_CONNECT_WAIT_MS = 2000;

/**
 * Requests and tokens per minute per key, user and organization, and requests in flight per
 * key. Counted in this process, or in Redis (`REDIS_URL`) for every instance at once; with
 * Redis unreachable, each instance counts its share of every limit locally (`fail-open`), or
 * auth answers 503 (`fail-closed`), until Redis answers again.
 */
@Injectable()
export class LimitsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LimitsService.name);
  private readonly redis: Redis | null;
  private readonly shared: LimitsBackend | null;
  /** Without Redis: every limit. With Redis: the local share while it is unreachable. */
  private readonly local = new MemoryLimitsBackend();
  private outageSince: number | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    const url = config.redisUrl;
    this.redis = url
      ? new Redis(url, {
          lazyConnect: true,
          // A command while disconnected fails at once instead of waiting in a queue.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: config.limits.redisTimeoutMs,
          connectTimeout: 1000,
          retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
        })
      : null;
    this.shared = this.redis ? new RedisLimitsBackend(this.redis) : null;
    this.redis?.on('error', (error: Error) => this.markDown(error));
    this.redis?.on('ready', () => this.markUp());
    if (this.redis) {
      const redis = this.redis;
      metrics.gauge(
        {
          name: 'guard_limits_redis_up',
          help: '1 while the Redis of the limits answers, 0 during an outage (only with REDIS_URL)',
        },
        (set) => set(this.outageSince === null && redis.status === 'ready' ? 1 : 0),
      );
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis) return;
    // Boot does not wait for Redis: the limits fall back as in any outage until it answers.
    await Promise.race([
      this.redis.connect().catch((error: Error) => this.markDown(error)),
      new Promise((resolve) => setTimeout(resolve, REDIS_CONNECT_WAIT_MS).unref()),
    ]);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.redis) return;
    await this.redis.quit().catch(() => this.redis?.disconnect());
  }

  /** Checks and counts an auth call against every limit it falls under. */
  async acquire(
    settings: LimitSettings,
    call: { reservedTokens: number; requestId: string | undefined },
  ): Promise<LimitVerdict> {
    const limits = this.config.limits;
    const concurrency = settings.key.concurrency ?? limits.defaultConcurrencyLimit;
    const input: AcquireInput = {
      requests: this.counters(settings, 'rpm'),
      tokens: this.counters(settings, 'tpm'),
      tokenCost: call.reservedTokens,
      concurrency:
        concurrency === null
          ? null
          : {
              key: this.leaseKey(settings.apiKeyId),
              limit: concurrency,
              leaseId: call.requestId ?? randomUUID(),
              ttlMs: limits.leaseTtlSeconds * 1000,
            },
      memo:
        call.requestId === undefined
          ? null
          : {
              key: this.memoKey(settings.apiKeyId, call.requestId),
              ttlMs: limits.leaseTtlSeconds * 1000,
            },
    };
    const result = await this.run(
      (backend) => backend.acquire(input),
      (backend) => backend.acquire(this.share(input)),
      true,
    );
    const shadow = settings.key.mode === 'shadow' || settings.organization?.mode === 'shadow';
    this.meter(input, result, shadow);
    const retryMs = Math.max(
      0,
      ...result.requests.map((state) => state.retryMs),
      ...result.tokens.map((state) => state.retryMs),
      result.concurrency?.full ? 1000 : 0,
    );
    return {
      allowed: result.allowed || shadow,
      headers: rateLimitHeaders(result.requests, result.tokens),
      retryAfterSeconds: result.allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
      counted: result.allowed
        ? {
            reservedTokens: call.reservedTokens,
            requestId: call.requestId,
            leaseId: input.concurrency?.leaseId ?? null,
          }
        : null,
    };
  }

  /**
   * Gives back what an auth call took when it is refused after the limits (credit, budget,
   * cap): its reserved tokens and its lease, so no log-usage is needed to free them.
   */
  async cancel(settings: LimitSettings, verdict: LimitVerdict): Promise<void> {
    const counted = verdict.counted;
    if (!counted || (counted.reservedTokens === 0 && counted.leaseId === null)) return;
    const input: ReleaseInput = {
      tokens: counted.reservedTokens === 0 ? [] : this.counters(settings, 'tpm'),
      usedTokens: 0,
      reservedFallback: counted.reservedTokens,
      memoKey:
        counted.requestId === undefined ? null : this.memoKey(settings.apiKeyId, counted.requestId),
      concurrency:
        counted.leaseId === null
          ? null
          : { key: this.leaseKey(settings.apiKeyId), leaseId: counted.leaseId },
    };
    await this.settle(input);
  }

  /**
   * Settles a call's log-usage: its tokens counted as really used (in place of what auth
   * reserved), its lease ended. Never refuses and never fails the call: usage that happened
   * is recorded whatever the limits say.
   */
  async release(
    settings: LimitSettings,
    usage: { usedTokens: number; reservedFallback: number; requestId: string | undefined },
  ): Promise<void> {
    const concurrency = settings.key.concurrency ?? this.config.limits.defaultConcurrencyLimit;
    const input: ReleaseInput = {
      tokens: this.counters(settings, 'tpm'),
      usedTokens: usage.usedTokens,
      // A call with a request id reserved what its memo says (nothing without one).
      reservedFallback: usage.requestId === undefined ? usage.reservedFallback : 0,
      memoKey:
        usage.requestId === undefined ? null : this.memoKey(settings.apiKeyId, usage.requestId),
      concurrency:
        concurrency === null
          ? null
          : { key: this.leaseKey(settings.apiKeyId), leaseId: usage.requestId ?? null },
    };
    await this.settle(input);
  }

  /** Never fails its caller: limits are best effort once a call has been let through. */
  private async settle(input: ReleaseInput): Promise<void> {
    if (input.tokens.length === 0 && !input.concurrency) return;
    try {
      await this.run(
        (backend) => backend.release(input),
        (backend) => backend.release(this.share(input)),
        false,
      );
    } catch (error) {
      // During a fail-closed outage there is nowhere to settle; the outage is logged already.
      if (!(error instanceof LimitsUnavailable)) {
        this.logger.warn(`Limits not settled: ${(error as Error).message}`);
      }
    }
  }

  /** Runs on Redis when there is one and it answers, else as the failure policy says. */
  private async run<T>(
    onShared: (backend: LimitsBackend) => Promise<T>,
    onLocalShare: (backend: LimitsBackend) => Promise<T>,
    refuses: boolean,
  ): Promise<T> {
    if (!this.redis || !this.shared) return onShared(this.local);
    if (this.redis.status === 'ready') {
      try {
        const result = await onShared(this.shared);
        this.markUp();
        return result;
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        this.markDown(error as Error);
      }
    } else {
      this.markDown(new Error(`connection ${this.redis.status}`));
    }
    const policy = this.config.limits.redisFailure;
    if (refuses) this.metrics.limitsFallbacks.inc({ policy });
    if (policy === 'fail-closed') {
      if (!refuses) throw new LimitsUnavailable();
      throw new DomainError(
        'service_unavailable',
        'Rate limits cannot be checked right now. Please try again later.',
        { retryAfterSeconds: 1 },
      );
    }
    return onLocalShare(this.local);
  }

  private markDown(error: Error): void {
    if (this.outageSince !== null) return;
    this.outageSince = Date.now();
    this.metrics.limitsRedisOutages.inc();
    const policy = this.config.limits.redisFailure;
    this.logger.error(
      `Redis for limits unreachable (${error.message}); ${
        policy === 'fail-open'
          ? `counting locally, 1/${this.config.limits.instanceCount} of each limit`
          : 'auth answers 503'
      } until it answers again`,
    );
  }

  private markUp(): void {
    if (this.outageSince === null) return;
    const seconds = ((Date.now() - this.outageSince) / 1000).toFixed(1);
    this.outageSince = null;
    this.logger.log(`Redis for limits reachable again after ${seconds} s; limits shared again`);
  }

  /** This instance's share of every limit, for counting locally while Redis is down. */
  private share<T extends AcquireInput | ReleaseInput>(input: T): T {
    const count = this.config.limits.instanceCount;
    const scale = (counters: RateCounter[]) =>
      counters.map((counter) => ({
        ...counter,
        limit: Math.max(1, Math.floor(counter.limit / count)),
      }));
    const scaled = { ...input, tokens: scale(input.tokens) };
    if ('requests' in scaled) {
      const acquire = scaled as AcquireInput;
      acquire.requests = scale(acquire.requests);
      if (acquire.concurrency) {
        acquire.concurrency = {
          ...acquire.concurrency,
          limit: Math.max(1, Math.floor(acquire.concurrency.limit / count)),
        };
      }
    }
    return scaled;
  }

  /** The per-minute counters of a kind that apply: key, user, organization. */
  private counters(settings: LimitSettings, kind: 'rpm' | 'tpm'): RateCounter[] {
    const limits = this.config.limits;
    const counters: RateCounter[] = [];
    const add = (scope: string, id: string, limit: number | null) => {
      if (limit !== null) counters.push({ key: `${this.prefix}${kind}:${scope}:${id}`, limit });
    };
    if (kind === 'rpm') {
      add('key', settings.apiKeyId, settings.key.rpm ?? this.config.defaultRpmLimit);
      add('user', settings.userId, limits.defaultUserRpmLimit);
      if (settings.organization) {
        add(
          'org',
          settings.organization.id,
          settings.organization.rpm ?? limits.defaultOrganizationRpmLimit,
        );
      }
    } else {
      add('key', settings.apiKeyId, settings.key.tpm ?? limits.defaultTpmLimit);
      add('user', settings.userId, limits.defaultUserTpmLimit);
      if (settings.organization) {
        add(
          'org',
          settings.organization.id,
          settings.organization.tpm ?? limits.defaultOrganizationTpmLimit,
        );
      }
    }
    return counters;
  }

  private meter(input: AcquireInput, result: AcquireResult, shadow: boolean): void {
    const refusal = shadow ? 'shadow_refused' : 'refused';
    const outcome = (refused: boolean) => (result.allowed || !refused ? 'allowed' : refusal);
    this.metrics.limiter.inc({
      limiter: 'requests_per_minute',
      outcome: outcome(result.requests.some((state) => state.retryMs > 0)),
    });
    if (input.tokens.length > 0) {
      this.metrics.limiter.inc({
        limiter: 'tokens_per_minute',
        outcome: outcome(result.tokens.some((state) => state.retryMs > 0)),
      });
    }
    if (result.concurrency) {
      this.metrics.limiter.inc({
        limiter: 'concurrency',
        outcome: outcome(result.concurrency.full),
      });
    }
  }

  private get prefix(): string {
    return this.redis ? this.config.limits.redisPrefix : '';
  }

  private leaseKey(apiKeyId: string): string {
    return `${this.prefix}conc:${apiKeyId}`;
  }

  private memoKey(apiKeyId: string, requestId: string): string {
    return `${this.prefix}memo:${apiKeyId}:${requestId}`;
  }
}

/** Redis is unreachable and nothing may be counted without it (`fail-closed`). */
class LimitsUnavailable extends Error {
  constructor() {
    super('Redis for limits is unreachable (fail-closed)');
  }
}

/** A failure of Redis being reachable, as opposed to an error in what was asked of it. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN)/.test(error.message);
}
