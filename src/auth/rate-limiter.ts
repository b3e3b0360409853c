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
 * Kept in this process's memory.
 */
@Injectable()
export class SlidingWindowRateLimiter {
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

  hit(key: string, limit: number, now = Date.now()): RateDecision {
    this.sweep(now);
    const windowStart = now - (now % WINDOW_MS);
    let window = this.windows.get(key);
    if (!window) {
      window = { start: windowStart, current: 0, previous: 0 };
      this.windows.set(key, window);
    } else if (window.start !== windowStart) {
      window.previous = window.start === windowStart - WINDOW_MS ? window.current : 0;
      window.current = 0;
      window.start = windowStart;
    }

    const overlap = 1 - (now - windowStart) / WINDOW_MS;
    const estimate = window.previous * overlap + window.current;
    if (estimate + 1 > limit) {
      return { allowed: false, retryAfterSeconds: this.retryAfter(window, limit, now) };
    }
    window.current += 1;
    return { allowed: true, retryAfterSeconds: 0 };
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
