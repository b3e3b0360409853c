import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The model a reservation was made for, so that usage logged without a `request_id` or
 * `reservation_id` settles the key's oldest open reservation for that model.
 */
export class AddReservationModels1795790000000 implements MigrationInterface {
  name = 'AddReservationModels1795790000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE reservations
        ADD COLUMN model_id uuid CONSTRAINT reservations_model_id_fkey REFERENCES models (id)`);
    await q.query(`
      CREATE INDEX reservations_open_unnamed_idx ON reservations (api_key_id, model_id, created_at)
        WHERE settled_at IS NULL AND request_id IS NULL`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX reservations_open_unnamed_idx`);
    await q.query(`ALTER TABLE reservations DROP COLUMN model_id`);
  }
}
