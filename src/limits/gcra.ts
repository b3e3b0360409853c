import { EPSILON_MS, LIMIT_PERIOD_MS, type CounterState } from './limits-backend.js';

// The generic cell rate algorithm, as redis-cell does it: a counter is one number, its
// theoretical arrival time (TAT). Each unit moves the TAT on by period ÷ limit; a call fits
// when the TAT it would leave is at most one period ahead of now. Capacity comes back
// continuously, one unit every period ÷ limit: a sliding minute, never a reset on the clock.
// The Redis script (redis-limits.scripts.ts) is the same arithmetic in Lua.

export function interval(limit: number): number {
  return LIMIT_PERIOD_MS / limit;
}

/** The TAT after `cost` more units, from a stored TAT (0: never used). */
export function advance(tat: number, now: number, limit: number, cost: number): number {
  return Math.max(tat, now) + cost * interval(limit);
}

export function fits(newTat: number, now: number): boolean {
  return newTat - now <= LIMIT_PERIOD_MS + EPSILON_MS;
}

/** The state a counter reports, with stored TAT `tat` and the TAT the call would have left. */
export function stateOf(tat: number, wanted: number, now: number, limit: number): CounterState {
  const ahead = Math.max(0, tat - now);
  const remaining = Math.floor((LIMIT_PERIOD_MS - ahead) / interval(limit) + 1e-6);
  return {
    limit,
    remaining: Math.min(limit, Math.max(0, remaining)),
    resetMs: Math.ceil(ahead),
    retryMs: fits(wanted, now) ? 0 : Math.ceil(wanted - LIMIT_PERIOD_MS - now),
  };
}

/** The TAT after a correction of `delta` units (negative gives capacity back), never before now. */
export function correct(tat: number, now: number, limit: number, delta: number): number {
  return Math.max(now, Math.max(tat, now) + delta * interval(limit));
}
