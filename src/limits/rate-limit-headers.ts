import type { CounterState } from './limits-backend.js';

/**
 * A duration as OpenAI writes `x-ratelimit-reset-*` (Go's notation, to the millisecond):
 * `0s`, `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const secondsText = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${minutes}m${secondsText}`;
  return secondsText;
}

/** Of several limits of one kind, the one reported: fewest units left, then latest whole. */
export function tightest(states: CounterState[]): CounterState | null {
  let chosen: CounterState | null = null;
  for (const state of states) {
    if (
      !chosen ||
      state.remaining < chosen.remaining ||
      (state.remaining === chosen.remaining && state.resetMs > chosen.resetMs)
    ) {
      chosen = state;
    }
  }
  return chosen;
}

/** The `x-ratelimit-*` headers of a decision: `-requests` always, `-tokens` with a token limit. */
export function rateLimitHeaders(
  requests: CounterState[],
  tokens: CounterState[],
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [kind, states] of [
    ['requests', requests],
    ['tokens', tokens],
  ] as const) {
    const state = tightest(states);
    if (!state) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(state.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(state.remaining);
    headers[`x-ratelimit-reset-${kind}`] = formatDuration(state.resetMs);
  }
  return headers;
}
