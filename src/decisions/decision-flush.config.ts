import { ConfigError } from '../config/app-config.js';

/** Injection token of how often, in milliseconds, decision counts are written. */
export const DECISION_FLUSH_MS = Symbol('DECISION_FLUSH_MS');

const DEFAULT_FLUSH_MS = 5000;
const MIN_FLUSH_MS = 10;
const MAX_FLUSH_MS = 3_600_000;

/**
 * `DECISION_FLUSH_MS`: how often each instance adds its decision counts to Postgres, and so
 * how far the decision report may lag behind (default 5000). Validated as the other settings
 * are: an integer in range, else the service does not start.
 */
export function decisionFlushMs(env: Record<string, string | undefined> = process.env): number {
  const raw = env.DECISION_FLUSH_MS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_FLUSH_MS;
  if (!/^\d+$/.test(raw) || Number(raw) < MIN_FLUSH_MS || Number(raw) > MAX_FLUSH_MS) {
    throw new ConfigError([
      `DECISION_FLUSH_MS must be an integer between ${MIN_FLUSH_MS} and ${MAX_FLUSH_MS} (got "${raw}")`,
    ]);
  }
  return Number(raw);
}
