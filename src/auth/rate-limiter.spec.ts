import { SlidingWindowRateLimiter } from './rate-limiter.js';

describe(SlidingWindowRateLimiter.name, () => {
  const minute = 60_000;
  const start = 1_800_000_000_000 - (1_800_000_000_000 % minute);

  it('allows exactly the limit within a minute, then refuses with Retry-After', () => {
    const limiter = new SlidingWindowRateLimiter();
    for (let i = 0; i < 5; i++) expect(limiter.hit('k', 5, start + i).allowed).toBe(true);
    const refused = limiter.hit('k', 5, start + 10);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('counts keys separately', () => {
    const limiter = new SlidingWindowRateLimiter();
    expect(limiter.hit('a', 1, start).allowed).toBe(true);
    expect(limiter.hit('b', 1, start).allowed).toBe(true);
    expect(limiter.hit('a', 1, start + 1).allowed).toBe(false);
  });

  it('weights the previous minute by its remaining overlap', () => {
    const limiter = new SlidingWindowRateLimiter();
    for (let i = 0; i < 10; i++) limiter.hit('k', 10, start + i);
    // A quarter into the next minute, 75% of the previous 10 still count: 2 more fit.
    const t = start + minute + minute / 4;
    expect(limiter.hit('k', 10, t).allowed).toBe(true);
    expect(limiter.hit('k', 10, t).allowed).toBe(true);
    expect(limiter.hit('k', 10, t).allowed).toBe(false);
  });

  it('forgets a minute that is two windows old', () => {
    const limiter = new SlidingWindowRateLimiter();
    limiter.hit('k', 1, start);
    expect(limiter.hit('k', 1, start + 2 * minute).allowed).toBe(true);
  });

  it('tells a refused caller when the window has room again', () => {
    const limiter = new SlidingWindowRateLimiter();
    for (let i = 0; i < 10; i++) limiter.hit('k', 10, start);
    const t = start + minute + minute / 4;
    while (limiter.hit('k', 10, t).allowed);
    const { retryAfterSeconds } = limiter.hit('k', 10, t);
    expect(limiter.hit('k', 10, t + retryAfterSeconds * 1000).allowed).toBe(true);
  });
});
