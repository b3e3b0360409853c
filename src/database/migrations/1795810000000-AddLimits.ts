import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Limits per key and per organization: tokens per minute, requests in flight (keys), requests
 * per minute (organizations; keys have had `rpm_limit`), each null for the configured default,
 * and whether they are enforced or only counted and reported (`shadow`).
 */
export class AddLimits1795810000000 implements MigrationInterface {
  name = 'AddLimits1795810000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE api_keys
        ADD COLUMN tpm_limit integer,
        ADD COLUMN concurrency_limit integer,
        ADD COLUMN limits_mode text NOT NULL DEFAULT 'enforce',
        ADD CONSTRAINT api_keys_tpm_limit_check CHECK (tpm_limit >= 1),
        ADD CONSTRAINT api_keys_concurrency_limit_check CHECK (concurrency_limit >= 1),
        ADD CONSTRAINT api_keys_limits_mode_check CHECK (limits_mode IN ('enforce', 'shadow'))`);
    await q.query(`
      ALTER TABLE organizations
        ADD COLUMN rpm_limit integer,
        ADD COLUMN tpm_limit integer,
        ADD COLUMN limits_mode text NOT NULL DEFAULT 'enforce',
        ADD CONSTRAINT organizations_rpm_limit_check CHECK (rpm_limit >= 1),
        ADD CONSTRAINT organizations_tpm_limit_check CHECK (tpm_limit >= 1),
        ADD CONSTRAINT organizations_limits_mode_check CHECK (limits_mode IN ('enforce', 'shadow'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE organizations
        DROP COLUMN limits_mode, DROP COLUMN tpm_limit, DROP COLUMN rpm_limit`);
    await q.query(`
      ALTER TABLE api_keys
        DROP COLUMN limits_mode, DROP COLUMN concurrency_limit, DROP COLUMN tpm_limit`);
  }
}
