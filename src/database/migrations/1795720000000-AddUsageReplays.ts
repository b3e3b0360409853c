import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first answer to an idempotent log-usage call, kept beside its event: written by the same
 * statement that records the usage, so recording stays one round trip.
 */
export class AddUsageReplays1795720000000 implements MigrationInterface {
  name = 'AddUsageReplays1795720000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_replays (
        usage_event_id uuid PRIMARY KEY REFERENCES usage_events (id) ON DELETE CASCADE,
        response text NOT NULL
      )`);
    await q.query(`
      INSERT INTO usage_replays (usage_event_id, response)
      SELECT id, response FROM usage_events WHERE response IS NOT NULL`);
    await q.query(`ALTER TABLE usage_events DROP COLUMN response`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE usage_events ADD COLUMN response text`);
    await q.query(`
      UPDATE usage_events e SET response = r.response
      FROM usage_replays r WHERE r.usage_event_id = e.id`);
    await q.query(`DROP TABLE usage_replays`);
  }
}
