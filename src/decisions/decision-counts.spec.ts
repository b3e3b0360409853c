import { DecisionCounts, utcHour } from './decision-counts.js';

const HOUR = Date.parse('2026-12-02T04:00:00Z');

describe(DecisionCounts.name, () => {
  it('adds calls of one combination to one count', () => {
    const counts = new DecisionCounts(10);
    counts.add(HOUR, '/api/guard/auth', 200, 'ok');
    counts.add(HOUR, '/api/guard/auth', 200, 'ok');
    counts.add(HOUR, '/api/guard/auth', 402, 'insufficient_credits');
    expect(counts.size).toBe(2);
    expect(counts.take()).toEqual([
      { hour: HOUR, route: '/api/guard/auth', status: 200, decision: 'ok', count: 2 },
      {
        hour: HOUR,
        route: '/api/guard/auth',
        status: 402,
        decision: 'insufficient_credits',
        count: 1,
      },
    ]);
  });

  it('takes everything, in key order, and is empty afterwards', () => {
    const counts = new DecisionCounts(10);
    counts.add(HOUR + 3_600_000, '/api/guard/auth', 200, 'ok');
    counts.add(HOUR, '/api/guard/log-usage', 201, 'ok');
    counts.add(HOUR, '/api/guard/auth', 429, 'rate_limited');
    counts.add(HOUR, '/api/guard/auth', 403, 'model_not_allowed');
    counts.add(HOUR, '/api/guard/auth', 403, 'billing_limit_exceeded');
    const keys = counts.take().map((c) => [c.hour - HOUR, c.route, c.status, c.decision]);
    expect(keys).toEqual([
      [0, '/api/guard/auth', 403, 'billing_limit_exceeded'],
      [0, '/api/guard/auth', 403, 'model_not_allowed'],
      [0, '/api/guard/auth', 429, 'rate_limited'],
      [0, '/api/guard/log-usage', 201, 'ok'],
      [3_600_000, '/api/guard/auth', 200, 'ok'],
    ]);
    expect(counts.size).toBe(0);
    expect(counts.take()).toEqual([]);
  });

  it('adds back what a failed write took to what was counted meanwhile', () => {
    const counts = new DecisionCounts(10);
    counts.add(HOUR, '/api/guard/auth', 200, 'ok', 5);
    const taken = counts.take();
    counts.add(HOUR, '/api/guard/auth', 200, 'ok');
    counts.add(HOUR, '/api/guard/auth', 401, 'invalid_api_key');
    counts.restore(taken);
    expect(counts.take().map((c) => [c.status, c.count])).toEqual([
      [200, 6],
      [401, 1],
    ]);
  });

  it('drops calls of new combinations past its bound, and still counts known ones', () => {
    const counts = new DecisionCounts(3);
    for (const status of [200, 401, 402]) counts.add(HOUR, '/api/guard/auth', status, 'x');
    expect(counts.add(HOUR, '/api/guard/auth', 403, 'x')).toBe(false);
    expect(counts.add(HOUR + 3_600_000, '/api/guard/auth', 200, 'x', 2)).toBe(false);
    expect(counts.add(HOUR, '/api/guard/auth', 200, 'x')).toBe(true);
    expect(counts.size).toBe(3);
    expect(counts.droppedCalls).toBe(3);
    expect(counts.takeDropped()).toBe(3);
    expect(counts.droppedCalls).toBe(0);

    const taken = counts.take();
    counts.add(HOUR, '/api/guard/auth', 404, 'x');
    counts.add(HOUR, '/api/guard/auth', 429, 'x');
    counts.restore(taken);
    expect(counts.size).toBe(3);
    // 404 and 429 kept, and the oldest key of what came back (200, two calls); 401 and 402 dropped.
    expect(counts.take().map((c) => [c.status, c.count])).toEqual([
      [200, 2],
      [404, 1],
      [429, 1],
    ]);
    expect(counts.droppedCalls).toBe(2);
  });
});

describe(utcHour.name, () => {
  it('is the start of the UTC hour', () => {
    expect(utcHour(Date.parse('2026-12-02T04:59:59.999Z'))).toBe(HOUR);
    expect(utcHour(HOUR)).toBe(HOUR);
  });
});
