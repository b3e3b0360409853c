/** The SQLSTATE of a Postgres error, as thrown by TypeORM (`driverError`) or by pg itself. */
export function sqlState(error: unknown): string | undefined {
  const { code, driverError } = (error ?? {}) as { code?: string; driverError?: { code?: string } };
  return driverError?.code ?? code;
}

/** A unique constraint refused the row (23505). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}
