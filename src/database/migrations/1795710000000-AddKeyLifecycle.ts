import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key and secret rotation (several hashes per key or service client, exactly one current),
 * legacy keys, monthly key caps, key metadata, organization spend roles, and the audit log.
 */
export class AddKeyLifecycle1795710000000 implements MigrationInterface {
  name = 'AddKeyLifecycle1795710000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_key_hashes (
        key_hash bytea PRIMARY KEY,
        api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        prefix text NOT NULL,
        last4 text NOT NULL,
        legacy boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        valid_until timestamptz
      )`);
    // At most one current (unbounded) hash per key: concurrent rotations cannot leave two.
    await q.query(`
      CREATE UNIQUE INDEX api_key_hashes_current_idx ON api_key_hashes (api_key_id)
        WHERE valid_until IS NULL`);
    await q.query(`CREATE INDEX api_key_hashes_legacy_idx ON api_key_hashes (legacy) WHERE legacy`);
    await q.query(`
      INSERT INTO api_key_hashes (key_hash, api_key_id, prefix, last4, created_at)
      SELECT key_hash, id, prefix, last4, created_at FROM api_keys`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN key_hash`);
    await q.query(`
      ALTER TABLE api_keys
        ADD COLUMN spend_period text NOT NULL DEFAULT 'lifetime'
          CONSTRAINT api_keys_spend_period_check CHECK (spend_period IN ('lifetime', 'monthly')),
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        ADD COLUMN rotated_at timestamptz`);
    await q.query(`
      CREATE TABLE api_key_monthly_spend (
        api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        month date NOT NULL,
        amount numeric NOT NULL DEFAULT 0,
        CONSTRAINT api_key_monthly_spend_pkey PRIMARY KEY (api_key_id, month)
      )`);

    await q.query(`
      CREATE TABLE service_client_secrets (
        secret_hash bytea PRIMARY KEY,
        service_client_id uuid NOT NULL REFERENCES service_clients (id) ON DELETE CASCADE,
        prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        valid_until timestamptz
      )`);
    await q.query(`
      CREATE UNIQUE INDEX service_client_secrets_current_idx
        ON service_client_secrets (service_client_id) WHERE valid_until IS NULL`);
    await q.query(`
      INSERT INTO service_client_secrets (secret_hash, service_client_id, prefix, created_at)
      SELECT secret_hash, id, prefix, created_at FROM service_clients`);
    await q.query(`ALTER TABLE service_clients DROP COLUMN secret_hash`);
    await q.query(`ALTER TABLE service_clients ADD COLUMN rotated_at timestamptz`);

    await q.query(`
      ALTER TABLE organizations
        ADD COLUMN spend_roles text[] NOT NULL DEFAULT ARRAY['manager', 'reader']
          CONSTRAINT organizations_spend_roles_check
          CHECK (spend_roles <@ ARRAY['manager', 'reader']::text[]),
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`CREATE INDEX organization_members_user_idx ON organization_members (user_id)`);

    await q.query(`
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        target_type text NOT NULL,
        target_id text NOT NULL,
        before jsonb,
        after jsonb,
        request_id text
      )`);
    await q.query(`CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id)`);
    await q.query(`CREATE INDEX audit_log_action_idx ON audit_log (action, id)`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP INDEX organization_members_user_idx`);
    await q.query(`ALTER TABLE organizations DROP COLUMN spend_roles, DROP COLUMN updated_at`);
    await q.query(
      `ALTER TABLE service_clients ADD COLUMN secret_hash bytea, DROP COLUMN rotated_at`,
    );
    await q.query(`
      UPDATE service_clients c SET secret_hash = s.secret_hash
      FROM service_client_secrets s WHERE s.service_client_id = c.id AND s.valid_until IS NULL`);
    await q.query(`DROP TABLE service_client_secrets`);
    await q.query(`DROP TABLE api_key_monthly_spend`);
    await q.query(`
      ALTER TABLE api_keys ADD COLUMN key_hash bytea,
        DROP COLUMN spend_period, DROP COLUMN metadata, DROP COLUMN rotated_at`);
    await q.query(`
      UPDATE api_keys k SET key_hash = h.key_hash
      FROM api_key_hashes h WHERE h.api_key_id = k.id AND h.valid_until IS NULL`);
    await q.query(`DROP TABLE api_key_hashes`);
  }
}
