import { Injectable } from '@nestjs/common';

const WINDOW_MS = 60_000;

interface Window {
  start: number;
  current: number;
  previous: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until a request would be allowed again (when refused). */
  retryAfterSeconds: number;
}

/**
 * Requests per minute per key, as a sliding window: the count of the current minute plus
 * the previous minute's count weighted by how much of it still overlaps the last 60 s.
 * Kept in this process's memory. Also counts failed authentications per source.
 */
@Injectable()
export class SlidingWindowRateLimiter {
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

  /** Counts a request against `limit` per minute, unless that would exceed it. */
  hit(key: string, limit: number, now = Date.now()): RateDecision {
    const decision = this.check(key, limit, now);
    if (decision.allowed) this.record(key, now);
    return decision;
  }

  /** Whether one more event is within `limit` per minute, counting nothing. */
  check(key: string, limit: number, now = Date.now()): RateDecision {
    this.sweep(now);
    const window = this.windows.get(key);
    if (!window) return { allowed: limit >= 1, retryAfterSeconds: limit >= 1 ? 0 : 60 };
    this.roll(window, now);
    const overlap = 1 - (now - window.start) / WINDOW_MS;
    const estimate = window.previous * overlap + window.current;
    if (estimate + 1 > limit) {
      return { allowed: false, retryAfterSeconds: this.retryAfter(window, limit, now) };
    }
    return { allowed: true, retryAfterSeconds: 0 };
  }

  /** Counts one event, whatever the limit. */
  record(key: string, now = Date.now()): void {
    let window = this.windows.get(key);
    if (!window) {
      window = { start: now - (now % WINDOW_MS), current: 0, previous: 0 };
      this.windows.set(key, window);
    } else {
      this.roll(window, now);
    }
    window.current += 1;
  }

  /** Moves a window on to the minute of `now`. */
  private roll(window: Window, now: number): void {
    const windowStart = now - (now % WINDOW_MS);
    if (window.start === windowStart) return;
    window.previous = window.start === windowStart - WINDOW_MS ? window.current : 0;
    window.current = 0;
    window.start = windowStart;
  }

  private retryAfter(window: Window, limit: number, now: number): number {
    const windowEnd = window.start + WINDOW_MS;
    // Within this minute only the previous minute's weight decays; past it, the current
    // minute's count becomes the decaying one.
    if (window.current + 1 <= limit && window.previous > 0) {
      const neededOverlap = (limit - 1 - window.current) / window.previous;
      const at = window.start + (1 - neededOverlap) * WINDOW_MS;
      if (at <= windowEnd) return Math.max(1, Math.ceil((at - now) / 1000));
    }
    const neededOverlap = window.current > 0 ? (limit - 1) / window.current : 1;
    const at = windowEnd + (1 - Math.min(1, neededOverlap)) * WINDOW_MS;
    return Math.max(1, Math.ceil((at - now) / 1000));
  }

  /** Forgets keys idle for two windows, at most once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) {
      if (now - window.start >= 2 * WINDOW_MS) this.windows.delete(key);
    }
  }
}
