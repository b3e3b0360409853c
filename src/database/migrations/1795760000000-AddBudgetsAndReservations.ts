import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Organization budgets (per calendar month in the organization's time zone) and reservations:
 * what an authorised call may still cost, held against the payer's credit, the key's cap and
 * the organization's budget until its usage is logged or it expires.
 */
export class AddBudgetsAndReservations1795760000000 implements MigrationInterface {
  name = 'AddBudgetsAndReservations1795760000000';

  public async up(q: QueryRunner): Promise<void> {
    // The calendar month (its first day) that an instant falls in, in a time zone.
    await q.query(`
      CREATE FUNCTION guard_month_in(time_zone text, at timestamptz) RETURNS date
      LANGUAGE sql STABLE AS $$ SELECT date_trunc('month', at AT TIME ZONE time_zone)::date $$`);
    await q.query(`
      ALTER TABLE organizations
        ADD COLUMN monthly_budget numeric CONSTRAINT organizations_monthly_budget_check CHECK (monthly_budget >= 0),
        ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
        ADD COLUMN reserved numeric NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE user_credits ADD COLUMN reserved numeric NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN reserved numeric NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE TABLE organization_monthly_spend (
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        month date NOT NULL,
        amount numeric NOT NULL DEFAULT 0,
        CONSTRAINT organization_monthly_spend_pkey PRIMARY KEY (organization_id, month)
      )`);
    await q.query(`
      CREATE TABLE reservations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        payer_user_id uuid NOT NULL REFERENCES users (id),
        organization_id uuid REFERENCES organizations (id),
        request_id text,
        amount numeric NOT NULL CONSTRAINT reservations_amount_check CHECK (amount >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        settled_at timestamptz,
        settled_cost numeric
      )`);
    await q.query(`
      CREATE UNIQUE INDEX reservations_open_request_idx ON reservations (api_key_id, request_id)
        WHERE settled_at IS NULL AND request_id IS NOT NULL`);
    await q.query(
      `CREATE INDEX reservations_open_expiry_idx ON reservations (expires_at) WHERE settled_at IS NULL`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE reservations`);
    await q.query(`DROP FUNCTION guard_month_in(text, timestamptz)`);
    await q.query(`DROP TABLE organization_monthly_spend`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN reserved`);
    await q.query(`ALTER TABLE user_credits DROP COLUMN reserved`);
    await q.query(
      `ALTER TABLE organizations DROP COLUMN monthly_budget, DROP COLUMN time_zone, DROP COLUMN reserved`,
    );
  }
}
