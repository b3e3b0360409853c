import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Writes the default of `organizations.spend_roles` as an array literal. The same value as
 * before; written `ARRAY['manager', 'reader']` it reads back in a form no entity can state, so
 * schema generation kept proposing to restate it.
 */
export class FixSpendRolesDefault1795800000000 implements MigrationInterface {
  name = 'FixSpendRolesDefault1795800000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE organizations ALTER COLUMN spend_roles SET DEFAULT '{manager,reader}'::text[]`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE organizations ALTER COLUMN spend_roles SET DEFAULT ARRAY['manager', 'reader']`,
    );
  }
}
