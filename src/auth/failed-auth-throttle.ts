import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { Metrics } from '../metrics/metrics.service.js';
import { SlidingWindowRateLimiter } from './rate-limiter.js';

/**
 * Failed authentications (the guard's 401s) counted per client address and per calling
 * service, over a sliding minute. A source over `AUTH_FAILURE_LIMIT` is answered 429 with
 * `Retry-After`, before any lookup, until its window has room again: guessing keys, or
 * flooding the caches with unknown ones, slows to that rate. Kept in this process's memory.
 */
@Injectable()
export class FailedAuthThrottle {
  private readonly failures = new SlidingWindowRateLimiter();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** The sources a request counts against: its address, and its service once known. */
  sources(address: string, serviceClientId: string | null | undefined): string[] {
    const sources = [`address:${address}`];
    if (serviceClientId) sources.push(`service:${serviceClientId}`);
    return sources;
  }

  /** Whole seconds to wait when a source is over its limit, else null. */
  refusal(sources: string[], now = Date.now()): number | null {
    let wait: number | null = null;
    for (const source of sources) {
      const decision = this.failures.check(source, this.config.authFailureLimit, now);
      if (!decision.allowed) wait = Math.max(wait ?? 0, decision.retryAfterSeconds);
    }
    this.metrics.limiter.inc({
      limiter: 'failed_auth',
      outcome: wait === null ? 'allowed' : 'refused',
    });
    return wait;
  }

  fail(sources: string[], now = Date.now()): void {
    for (const source of sources) this.failures.record(source, now);
  }
}
