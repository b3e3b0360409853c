import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Indexes for the per-key and per-client secret lists, and emails unique whatever their case. */
export class AddLookupIndexes1795730000000 implements MigrationInterface {
  name = 'AddLookupIndexes1795730000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX api_key_hashes_key_idx ON api_key_hashes (api_key_id)`);
    await q.query(
      `CREATE INDEX service_client_secrets_client_idx ON service_client_secrets (service_client_id)`,
    );
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_email_key`);
    await q.query(`CREATE UNIQUE INDEX users_email_lower_idx ON users (lower(email))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX users_email_lower_idx`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)`);
    await q.query(`DROP INDEX service_client_secrets_client_idx`);
    await q.query(`DROP INDEX api_key_hashes_key_idx`);
  }
}
