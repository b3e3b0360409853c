import type { EntityManager } from 'typeorm';

const SECRET_TABLES = {
  api_key_hashes: 'api_key_id',
  service_client_secrets: 'service_client_id',
} as const;

/**
 * The first half of a rotation: every secret of `ownerId` that still works stops working
 * `graceSeconds` from now (never later than it already would), which leaves room for the one
 * new current secret the caller adds next.
 */
export async function endCurrentSecrets(
  manager: EntityManager,
  table: keyof typeof SECRET_TABLES,
  ownerId: string,
  graceSeconds: number,
): Promise<void> {
  await manager.query(
    `UPDATE ${table}
     SET valid_until = LEAST(COALESCE(valid_until, 'infinity'), now() + make_interval(secs => $2))
     WHERE ${SECRET_TABLES[table]} = $1 AND (valid_until IS NULL OR valid_until > now())`,
    [ownerId, graceSeconds],
  );
}
