import { standingInvalidationSql } from '../auth-cache/invalidation.js';

/**
 * Locks the rows a ledger transaction charges, in the one order every ledger transaction
 * uses: payers' credit rows, then organizations, then keys, each by id. Statements that run
 * after it see every change committed before the locks were granted. The arguments are the
 * placeholders of the payer user ids, organization ids and API key ids (uuid[]); the answer is
 * a select list (three counts), for `SELECT` or plpgsql's `PERFORM`.
 */
export function lockList(payers: string, organizations: string, keys: string): string {
  return `
  (SELECT count(*) FROM (SELECT 1 FROM user_credits WHERE user_id = ANY (${payers}::uuid[])
                         ORDER BY user_id FOR UPDATE) p) AS payers,
  (SELECT count(*) FROM (SELECT 1 FROM organizations WHERE id = ANY (${organizations}::uuid[])
                         ORDER BY id FOR UPDATE) o) AS organizations,
  (SELECT count(*) FROM (SELECT 1 FROM api_keys WHERE id = ANY (${keys}::uuid[])
                         ORDER BY id FOR UPDATE) k) AS keys`;
}

/** {@link lockList} as a statement. $1: payer user ids, $2: organization ids, $3: API key ids. */
export const LOCK_SQL = `SELECT ${lockList('$1', '$2', '$3')}`;

/**
 * Up to $1 expired, unsettled reservations, oldest first, with the rows they hold on; none
 * when another transaction (another instance's sweep) holds the sweep's advisory lock, so
 * sweeps never queue behind each other on the same rows.
 */
export const EXPIRING_SQL = `
SELECT id, payer_user_id, organization_id, api_key_id
FROM reservations
WHERE settled_at IS NULL AND expires_at <= now()
  AND pg_try_advisory_xact_lock(hashtext('guard.reservation_sweep'))
ORDER BY expires_at
LIMIT $1`;

/**
 * Releases the reservations $1 (uuid[]) that are still unsettled: each settles at no cost and
 * gives back what it held on its payer, key and organization. $2: the invalidation channel.
 * Runs after the ledger's locks on those rows; a reservation row another transaction still
 * holds is skipped (`SKIP LOCKED`) and left to the next sweep, never waited for.
 */
export const EXPIRE_SQL = `
WITH expired AS (
  UPDATE reservations SET settled_at = now(), settled_cost = 0
  WHERE id IN (SELECT id FROM reservations WHERE id = ANY ($1::uuid[]) AND settled_at IS NULL
               FOR UPDATE SKIP LOCKED)
  RETURNING api_key_id, payer_user_id, organization_id, amount
), payers AS (
  UPDATE user_credits c SET reserved = c.reserved - e.amount
  FROM (SELECT payer_user_id, sum(amount) AS amount FROM expired GROUP BY 1) e
  WHERE c.user_id = e.payer_user_id RETURNING c.user_id
), keys AS (
  UPDATE api_keys k SET reserved = k.reserved - e.amount
  FROM (SELECT api_key_id, sum(amount) AS amount FROM expired GROUP BY 1) e
  WHERE k.id = e.api_key_id RETURNING k.id
), organizations AS (
  UPDATE organizations o SET reserved = o.reserved - e.amount
  FROM (SELECT organization_id, sum(amount) AS amount FROM expired
        WHERE organization_id IS NOT NULL GROUP BY 1) e
  WHERE o.id = e.organization_id RETURNING o.id
)
SELECT (SELECT count(*) FROM expired)::int AS expired,
  (SELECT count(pg_notify($2, ${standingInvalidationSql('payer', 'user_id')})) FROM payers) AS payers,
  (SELECT count(pg_notify($2, ${standingInvalidationSql('key', 'id')})) FROM keys) AS keys,
  (SELECT count(pg_notify($2, ${standingInvalidationSql('organization', 'id')})) FROM organizations) AS organizations`;
