import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Puts the payer (`payer_user_id`) in the primary keys of `usage_events` and `reservations`,
 * so that both can be distributed by payer (Citus requires the distribution column in every
 * primary key and unique index). The column goes last: lookups by `id` keep their index, and no
 * statement names these keys (see docs/scaling.md, "Keys and the distribution column").
 */
export class AddPayerToUsageKeys1795900000000 implements MigrationInterface {
  name = 'AddPayerToUsageKeys1795900000000';

  public async up(q: QueryRunner): Promise<void> {
    // On the partitioned table, the partitions' keys go and come with it.
    await q.query(`ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey`);
    await q.query(
      `ALTER TABLE usage_events
         ADD CONSTRAINT usage_events_pkey PRIMARY KEY (id, created_at, payer_user_id)`,
    );
    await q.query(`ALTER TABLE reservations DROP CONSTRAINT reservations_pkey`);
    await q.query(
      `ALTER TABLE reservations ADD CONSTRAINT reservations_pkey PRIMARY KEY (id, payer_user_id)`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reservations DROP CONSTRAINT reservations_pkey`);
    await q.query(`ALTER TABLE reservations ADD CONSTRAINT reservations_pkey PRIMARY KEY (id)`);
    await q.query(`ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey`);
    await q.query(
      `ALTER TABLE usage_events ADD CONSTRAINT usage_events_pkey PRIMARY KEY (id, created_at)`,
    );
  }
}
