import { formatDuration, rateLimitHeaders } from './rate-limit-headers.js';

describe(formatDuration.name, () => {
  it.each([
    [0, '0s'],
    [20, '20ms'],
    [999.2, '1s'],
    [1000, '1s'],
    [1500, '1.5s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
  ])('writes %d ms as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe(rateLimitHeaders.name, () => {
  it('reports the tightest limit of each kind, and tokens only when one applies', () => {
    const key = { limit: 60, remaining: 10, resetMs: 50_000, retryMs: 0 };
    const user = { limit: 1000, remaining: 10, resetMs: 59_000, retryMs: 0 };
    const org = { limit: 100, remaining: 40, resetMs: 36_000, retryMs: 0 };
    expect(rateLimitHeaders([key, user, org], [])).toEqual({
      'x-ratelimit-limit-requests': '1000',
      'x-ratelimit-remaining-requests': '10',
      'x-ratelimit-reset-requests': '59s',
    });
    expect(
      rateLimitHeaders([key], [{ limit: 5000, remaining: 4800, resetMs: 2400, retryMs: 0 }]),
    ).toMatchObject({
      'x-ratelimit-limit-tokens': '5000',
      'x-ratelimit-remaining-tokens': '4800',
      'x-ratelimit-reset-tokens': '2.4s',
    });
  });
});
