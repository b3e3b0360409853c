import type pg from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs a statement of the hot path as a named prepared statement on TypeORM's own pg pool:
 * Postgres parses and plans it once per connection, not on every request.
 */
export async function preparedQuery<T>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master: pg.Pool }).master;
  const result = await pool.query({ name, text, values });
  return result.rows as T[];
}
