import type pg from 'pg';

/**
 * Every application table (partitioned tables once, through their parent), found in the
 * catalog so that a table added later is covered without touching this file.
 */
export async function applicationTables(db: pg.Pool): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY c.relname`,
  );
  return rows.map((row) => row.name);
}

/** Row count and an md5 of every row, per table: equal digests mean nothing was written. */
export async function tableDigests(db: pg.Pool, tables: string[]): Promise<Record<string, string>> {
  const sql = tables
    .map(
      (table) =>
        `SELECT '${table}' AS name, count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest FROM "${table}" t`,
    )
    .join(' UNION ALL ');
  const { rows } = await db.query<{ name: string; digest: string }>(sql);
  return Object.fromEntries(rows.map((row) => [row.name, row.digest]));
}

/** The tables whose digest differs, with both digests. */
export function changedTables(
  before: Record<string, string>,
  after: Record<string, string>,
): string[] {
  return Object.keys({ ...before, ...after })
    .filter((table) => before[table] !== after[table])
    .map((table) => `${table} (${before[table]} -> ${after[table]})`);
}
