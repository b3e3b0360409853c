import type { AcquireInput } from './limits-backend.js';
import { MemoryLimitsBackend } from './memory-limits.backend.js';

const minute = 60_000;
const start = 1_800_000_000_000 - (1_800_000_000_000 % minute);

function request(limit: number, extra: Partial<AcquireInput> = {}): AcquireInput {
  return {
    requests: [{ key: 'rpm:key:k', limit }],
    tokens: [],
    tokenCost: 0,
    concurrency: null,
    memo: null,
    ...extra,
  };
}

describe(MemoryLimitsBackend.name, () => {
  let now: number;
  let limits: MemoryLimitsBackend;
  beforeEach(() => {
    now = start;
    limits = new MemoryLimitsBackend(() => now);
  });

  it('allows exactly the limit of rapid calls, then refuses until one unit is back', () => {
    const results = Array.from({ length: 100 }, () => limits.acquireNow(request(60)));
    expect(results.filter((result) => result.allowed)).toHaveLength(60);
    expect(results.slice(0, 60).every((result) => result.allowed)).toBe(true);
    expect(results[0].requests[0]).toEqual({ limit: 60, remaining: 59, resetMs: 1000, retryMs: 0 });
    expect(results[59].requests[0]).toEqual({
      limit: 60,
      remaining: 0,
      resetMs: minute,
      retryMs: 0,
    });
    expect(results[60].requests[0]).toEqual({
      limit: 60,
      remaining: 0,
      resetMs: minute,
      retryMs: 1000,
    });
    now += 1000;
    expect(limits.acquireNow(request(60)).allowed).toBe(true);
    expect(limits.acquireNow(request(60)).allowed).toBe(false);
  });

  it('slides: capacity comes back a unit at a time, not all at once on the minute', () => {
    now = start + 59_000;
    for (let i = 0; i < 60; i++) expect(limits.acquireNow(request(60)).allowed).toBe(true);
    // Across the clock's minute boundary, two seconds later: two calls fit, not sixty.
    now = start + 61_000;
    expect(limits.acquireNow(request(60)).allowed).toBe(true);
    expect(limits.acquireNow(request(60)).allowed).toBe(true);
    expect(limits.acquireNow(request(60)).allowed).toBe(false);
    // Half a minute after the burst, half the limit is back.
    now = start + 59_000 + 30_000;
    let allowed = 0;
    while (limits.acquireNow(request(60)).allowed) allowed++;
    expect(allowed).toBe(30 - 2);
  });

  it('counts nothing when any limit refuses', () => {
    const both = (userLimit: number) =>
      request(10, {
        requests: [
          { key: 'key', limit: 10 },
          { key: 'user', limit: userLimit },
        ],
      });
    expect(limits.acquireNow(both(1)).allowed).toBe(true);
    const refused = limits.acquireNow(both(1));
    expect(refused.allowed).toBe(false);
    expect(refused.requests.map((state) => state.remaining)).toEqual([9, 0]);
    expect(
      limits.acquireNow(request(10, { requests: [{ key: 'key', limit: 10 }] })).requests[0]
        .remaining,
    ).toBe(8);
  });

  it('reserves tokens, settles them to the real count, and refuses while over', () => {
    const tokens = (cost: number, requestId?: string) =>
      request(1000, {
        tokens: [{ key: 'tpm:key:k', limit: 1000 }],
        tokenCost: cost,
        memo: requestId ? { key: `memo:${requestId}`, ttlMs: minute } : null,
      });
    expect(limits.acquireNow(tokens(300, 'a')).tokens[0].remaining).toBe(700);
    // Used 100 of the 300 reserved (found by its memo): 200 come back.
    limits.releaseNow({
      tokens: [{ key: 'tpm:key:k', limit: 1000 }],
      usedTokens: 100,
      reservedFallback: 0,
      memoKey: 'memo:a',
      concurrency: null,
    });
    expect(limits.acquireNow(tokens(0)).tokens[0].remaining).toBe(900);
    // Usage over the limit is counted all the same; auth then waits for the window.
    limits.releaseNow({
      tokens: [{ key: 'tpm:key:k', limit: 1000 }],
      usedTokens: 1500,
      reservedFallback: 0,
      memoKey: null,
      concurrency: null,
    });
    const refused = limits.acquireNow(tokens(0));
    expect(refused.allowed).toBe(false);
    expect(refused.tokens[0].retryMs).toBe(36_000);
    now += 36_000;
    expect(limits.acquireNow(tokens(0)).allowed).toBe(true);
  });

  it('ends leases by log-usage (by id, else the oldest) and by expiry', () => {
    const lease = (id: string) =>
      request(1000, { concurrency: { key: 'conc:k', limit: 2, leaseId: id, ttlMs: 5000 } });
    const release = (id: string | null) =>
      limits.releaseNow({
        tokens: [],
        usedTokens: 0,
        reservedFallback: 0,
        memoKey: null,
        concurrency: { key: 'conc:k', leaseId: id },
      });
    expect(limits.acquireNow(lease('a')).concurrency).toEqual({ limit: 2, active: 1, full: false });
    now += 10;
    expect(limits.acquireNow(lease('b')).allowed).toBe(true);
    expect(limits.acquireNow(lease('c'))).toMatchObject({
      allowed: false,
      concurrency: { active: 2, full: true },
    });
    release('b');
    expect(limits.acquireNow(lease('c')).allowed).toBe(true);
    release(null); // the oldest: a
    expect(limits.acquireNow(lease('d')).allowed).toBe(true);
    expect(limits.acquireNow(lease('e')).allowed).toBe(false);
    now += 5000;
    expect(limits.acquireNow(lease('e')).concurrency).toEqual({ limit: 2, active: 1, full: false });
  });
});
