import type { Redis } from 'ioredis';
import {
  LIMIT_PERIOD_MS,
  type AcquireInput,
  type AcquireResult,
  type CounterState,
  type LimitsBackend,
  type ReleaseInput,
} from './limits-backend.js';
import { ACQUIRE_SCRIPT, RELEASE_SCRIPT } from './redis-limits.scripts.js';

type Args = (string | number)[];

interface LimitsCommands {
  guardLimitsAcquire(...args: Args): Promise<number[]>;
  guardLimitsRelease(...args: Args): Promise<number>;
}

/**
 * Limits shared by every instance, in Redis: one script call per guarded request (EVALSHA,
 * falling back to EVAL when Redis does not know the script yet, as ioredis' defineCommand does).
 */
export class RedisLimitsBackend implements LimitsBackend {
  private readonly redis: Redis & LimitsCommands;

  constructor(redis: Redis) {
    redis.defineCommand('guardLimitsAcquire', { lua: ACQUIRE_SCRIPT });
    redis.defineCommand('guardLimitsRelease', { lua: RELEASE_SCRIPT });
    this.redis = redis as Redis & LimitsCommands;
  }

  async acquire(input: AcquireInput): Promise<AcquireResult> {
    const counters = [...input.requests, ...input.tokens];
    const keys = counters.map((counter) => counter.key);
    if (input.concurrency) keys.push(input.concurrency.key);
    const memo = input.memo && input.tokenCost > 0 ? input.memo : null;
    if (memo) keys.push(memo.key);
    const reply = await this.redis.guardLimitsAcquire(
      keys.length,
      ...keys,
      LIMIT_PERIOD_MS,
      input.requests.length,
      input.tokens.length,
      input.tokenCost,
      input.concurrency ? 1 : 0,
      input.concurrency?.limit ?? 0,
      input.concurrency?.leaseId ?? '',
      input.concurrency?.ttlMs ?? 0,
      memo?.ttlMs ?? 0,
      ...counters.map((counter) => counter.limit),
    );
    const states: CounterState[] = counters.map((counter, i) => ({
      limit: counter.limit,
      remaining: Number(reply[1 + 3 * i]),
      resetMs: Number(reply[2 + 3 * i]),
      retryMs: Number(reply[3 + 3 * i]),
    }));
    const leaseAt = 1 + 3 * counters.length;
    return {
      allowed: Number(reply[0]) === 1,
      requests: states.slice(0, input.requests.length),
      tokens: states.slice(input.requests.length),
      concurrency: input.concurrency
        ? {
            limit: input.concurrency.limit,
            active: Number(reply[leaseAt]),
            full: Number(reply[leaseAt + 1]) === 1,
          }
        : null,
    };
  }

  async release(input: ReleaseInput): Promise<void> {
    const keys = input.tokens.map((counter) => counter.key);
    if (input.concurrency) keys.push(input.concurrency.key);
    if (input.memoKey) keys.push(input.memoKey);
    await this.redis.guardLimitsRelease(
      keys.length,
      ...keys,
      LIMIT_PERIOD_MS,
      input.tokens.length,
      input.usedTokens,
      input.reservedFallback,
      input.concurrency ? 1 : 0,
      input.concurrency?.leaseId ?? '',
      input.memoKey ? 1 : 0,
      ...input.tokens.map((counter) => counter.limit),
    );
  }
}
