import type { MigrationInterface, QueryRunner } from 'typeorm';

const REFERENCES: [column: string, table: string][] = [
  ['api_key_id', 'api_keys'],
  ['user_id', 'users'],
  ['payer_user_id', 'users'],
  ['organization_id', 'organizations'],
  ['service_client_id', 'service_clients'],
  ['model_id', 'models'],
];

/**
 * `usage_events` keeps its ids without foreign keys. Every id an event holds was read in the
 * transaction that writes it: the payer's, organization's and key's rows are locked by the
 * ledger before the insert, the model is joined by the same statement, the user and service
 * client are the guard's resolved caller; and none of these rows is ever deleted (keys and
 * service clients are revoked and marked deleted, users, organizations and models stay). The
 * six checks, one index probe and row lock each per event, were a fifth of a log-usage
 * batch's time in Postgres (docs/ledger.md).
 */
export class DropUsageEventForeignKeys1796100000000 implements MigrationInterface {
  name = 'DropUsageEventForeignKeys1796100000000';

  public async up(q: QueryRunner): Promise<void> {
    for (const [column] of REFERENCES) {
      await q.query(`ALTER TABLE usage_events DROP CONSTRAINT usage_events_${column}_fkey1`);
    }
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const [column, table] of REFERENCES) {
      await q.query(
        `ALTER TABLE usage_events ADD CONSTRAINT usage_events_${column}_fkey1
         FOREIGN KEY (${column}) REFERENCES ${table}(id)`,
      );
    }
  }
}
