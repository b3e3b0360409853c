/** One rate counter: a GCRA cell of `limit` units per {@link LIMIT_PERIOD_MS}. */
export interface RateCounter {
  /** Identifies the counter across instances, e.g. `rpm:key:<id>`. */
  key: string;
  limit: number;
}

/** What one guarded call asks of the limits, checked and counted all at once. */
export interface AcquireInput {
  /** Counters that one request costs 1 of. */
  requests: RateCounter[];
  /** Counters that the call's reserved tokens cost `tokenCost` of. */
  tokens: RateCounter[];
  tokenCost: number;
  /** A lease on the key's concurrency slots, when the key has such a limit. */
  concurrency: { key: string; limit: number; leaseId: string; ttlMs: number } | null;
  /** Where to remember `tokenCost` for the call's log-usage (when it has a request id). */
  memo: { key: string; ttlMs: number } | null;
}

/** A counter after the decision: what the headers report. */
export interface CounterState {
  limit: number;
  /** Units left after this call (0 when it was refused for lack of them). */
  remaining: number;
  /** Milliseconds until the counter is whole again. */
  resetMs: number;
  /** Milliseconds until this call would fit; 0 when it fits now. */
  retryMs: number;
}

export interface AcquireResult {
  /** Whether every limit had room; only then is anything counted. */
  allowed: boolean;
  requests: CounterState[];
  tokens: CounterState[];
  /** Leases held after the decision, and whether the slots were full. */
  concurrency: { limit: number; active: number; full: boolean } | null;
}

/** What log-usage settles: the tokens really used, and the call's lease. */
export interface ReleaseInput {
  tokens: RateCounter[];
  usedTokens: number;
  /** Tokens auth reserved for the call when no memo is found. */
  reservedFallback: number;
  /** The memo written by auth, when the call has a request id. */
  memoKey: string | null;
  /** The lease to end: `leaseId`, else (null, or not held) the key's oldest. */
  concurrency: { key: string; leaseId: string | null } | null;
}

/** Where limits are counted: this process, or Redis for every instance. */
export interface LimitsBackend {
  acquire(input: AcquireInput): Promise<AcquireResult>;
  release(input: ReleaseInput): Promise<void>;
}

/** Every rate limit is per minute. */
export const LIMIT_PERIOD_MS = 60_000;

/** Slack for floating-point sums of emission intervals (a limit of 7 is 8571.428… ms each). */
export const EPSILON_MS = 0.001;
