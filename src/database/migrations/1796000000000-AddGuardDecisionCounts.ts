import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hourly counts of the guard's decisions: each instance keeps them in memory and adds them
 * here every few seconds in one upsert, so the request path does no database work for them.
 */
export class AddGuardDecisionCounts1796000000000 implements MigrationInterface {
  name = 'AddGuardDecisionCounts1796000000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE guard_decisions_hourly (
        hour timestamptz NOT NULL,
        route text NOT NULL,
        status smallint NOT NULL,
        decision text NOT NULL,
        count bigint NOT NULL,
        CONSTRAINT guard_decisions_hourly_pkey PRIMARY KEY (hour, route, status, decision)
      )`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE guard_decisions_hourly`);
  }
}
