import { advance, correct, fits, stateOf } from './gcra.js';
import type {
  AcquireInput,
  AcquireResult,
  CounterState,
  LimitsBackend,
  RateCounter,
  ReleaseInput,
} from './limits-backend.js';

/** Milliseconds since the epoch; injectable so tests can move time. */
export type Clock = () => number;

const SWEEP_EVERY_MS = 60_000;

/**
 * Limits counted in this process's memory: exact for one instance, and the local share of
 * each limit while Redis is unreachable. The same decisions as the Redis script.
 */
export class MemoryLimitsBackend implements LimitsBackend {
  private readonly tats = new Map<string, number>();
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly memos = new Map<string, { tokens: number; expiresAt: number }>();
  private lastSweep = 0;

  constructor(private readonly clock: Clock = Date.now) {}

  acquire(input: AcquireInput): Promise<AcquireResult> {
    return Promise.resolve(this.acquireNow(input));
  }

  release(input: ReleaseInput): Promise<void> {
    this.releaseNow(input);
    return Promise.resolve();
  }

  acquireNow(input: AcquireInput): AcquireResult {
    const now = this.clock();
    this.sweep(now);
    const plan = (counters: RateCounter[], cost: number) =>
      counters.map((counter) => {
        const tat = this.tats.get(counter.key) ?? 0;
        return { counter, tat, wanted: advance(tat, now, counter.limit, cost) };
      });
    const requests = plan(input.requests, 1);
    const tokens = plan(input.tokens, input.tokenCost);
    let allowed = [...requests, ...tokens].every((step) => fits(step.wanted, now));

    let concurrency: AcquireResult['concurrency'] = null;
    let leases: Map<string, number> | undefined;
    if (input.concurrency) {
      leases = this.liveLeases(input.concurrency.key, now);
      const full = leases.size >= input.concurrency.limit;
      if (full) allowed = false;
      concurrency = { limit: input.concurrency.limit, active: leases.size, full };
    }

    const settle = (steps: typeof requests): CounterState[] =>
      steps.map(({ counter, tat, wanted }) => {
        if (allowed) this.tats.set(counter.key, wanted);
        return stateOf(allowed ? wanted : tat, wanted, now, counter.limit);
      });
    const result: AcquireResult = {
      allowed,
      requests: settle(requests),
      tokens: settle(tokens),
      concurrency,
    };
    if (allowed && input.concurrency && leases && concurrency) {
      if (leases.size === 0) this.leases.set(input.concurrency.key, leases);
      leases.set(input.concurrency.leaseId, now + input.concurrency.ttlMs);
      concurrency.active = leases.size;
    }
    if (allowed && input.memo && input.tokenCost > 0) {
      this.memos.set(input.memo.key, {
        tokens: input.tokenCost,
        expiresAt: now + input.memo.ttlMs,
      });
    }
    return result;
  }

  releaseNow(input: ReleaseInput): void {
    const now = this.clock();
    let reserved = input.reservedFallback;
    if (input.memoKey) {
      const memo = this.memos.get(input.memoKey);
      if (memo && memo.expiresAt > now) reserved = memo.tokens;
      this.memos.delete(input.memoKey);
    }
    const delta = input.usedTokens - reserved;
    if (delta !== 0) {
      for (const counter of input.tokens) {
        const tat = this.tats.get(counter.key) ?? 0;
        this.tats.set(counter.key, correct(tat, now, counter.limit, delta));
      }
    }
    if (input.concurrency) {
      const leases = this.liveLeases(input.concurrency.key, now);
      const { leaseId } = input.concurrency;
      if (!(leaseId !== null && leases.delete(leaseId))) {
        let oldest: [string, number] | undefined;
        for (const lease of leases) if (!oldest || lease[1] < oldest[1]) oldest = lease;
        if (oldest) leases.delete(oldest[0]);
      }
    }
  }

  /** The unexpired leases of a key (a new, unstored map when it has none). */
  private liveLeases(key: string, now: number): Map<string, number> {
    const leases = this.leases.get(key);
    if (!leases) return new Map();
    for (const [id, expiresAt] of leases) if (expiresAt <= now) leases.delete(id);
    if (leases.size === 0) this.leases.delete(key);
    return leases;
  }

  /** Forgets counters that are whole again, and expired memos, at most once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
    for (const [key, memo] of this.memos) if (memo.expiresAt <= now) this.memos.delete(key);
    for (const key of [...this.leases.keys()]) this.liveLeases(key, now);
  }
}
