import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `guard_month_in` was added to AddBudgetsAndReservations after that migration had already run
 * on some databases, which therefore lack it. Creates it where it is missing, with the same
 * body; where it exists, replacing it changes nothing.
 */
export class RepairMonthFunction1795780000000 implements MigrationInterface {
  name = 'RepairMonthFunction1795780000000';

  public async up(q: QueryRunner): Promise<void> {
    // The calendar month (its first day) that an instant falls in, in a time zone.
    await q.query(`
      CREATE OR REPLACE FUNCTION guard_month_in(time_zone text, at timestamptz) RETURNS date
      LANGUAGE sql STABLE AS $$ SELECT date_trunc('month', at AT TIME ZONE time_zone)::date $$`);
  }

  public async down(): Promise<void> {
    // The function belongs to AddBudgetsAndReservations, whose down drops it; dropping it here
    // would break the service on every database that had it before this migration.
  }
}
