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

/**
 * The standing entries a movement of money makes stale, one kind per row it charges: the
 * payer's credit, the key's spend, the organization's budget. The one definition of their
 * invalidation keys, for TypeScript and SQL alike.
 */
export const STANDING = { payer: 'payer', key: 'keyspend', organization: 'orgspend' } as const;

export type StandingKind = keyof typeof STANDING;

/** The invalidation of one standing entry, e.g. `payer:<userId>`. */
export function standingInvalidation(kind: StandingKind, id: string): Invalidation {
  return `${STANDING[kind]}:${id}`;
}

/** The same invalidation as a SQL expression of the id expression `id`, for `pg_notify`. */
export function standingInvalidationSql(kind: StandingKind, id: string): string {
  return `'${STANDING[kind]}:' || ${id}`;
}
