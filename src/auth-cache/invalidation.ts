/** Channel of the cache invalidations, sent with `pg_notify` in the changing transaction. */
export const INVALIDATION_CHANNEL = 'guard_cache';

/** Everything the guard caches, by kind. */
export type CacheKind =
  'secret' | 'key' | 'org' | 'member' | 'model' | 'payer' | 'keyspend' | 'orgspend';

/**
 * What a change makes stale: a whole kind (rare admin changes), or one entry of a kind
 * (`payer:<userId>`, `keyspend:<apiKeyId>`: charges, credit), or `legacy` (a legacy key was
 * imported), or `all`.
 */
export type Invalidation = CacheKind | `${CacheKind}:${string}` | 'legacy' | 'all';
