/**
 * The guard's two ways of resolving its headers: the in-process cache (the default), and one
 * statement per request when the cache is bypassed (`AUTH_CACHE=off`, or while the LISTEN
 * connection is down). Both must give the same answer; suites that check the guard run under
 * each, with `describe.each(CACHE_MODES)('… (%s)', (_mode, cacheEnv) => …)`.
 */
export const CACHE_MODES: [mode: string, env: Record<string, string>][] = [
  ['cache on', {}],
  ['cache off', { AUTH_CACHE: 'off' }],
];
